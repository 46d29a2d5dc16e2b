"""The organiser's use cases on series and occurrences: the API, the pages and the CLI come here.

Each function opens its own session, commits once, and only then reacts (awards recomputed,
physicians told of a change). Credit types are read from the database at each call, so a type
added while the service runs is accepted at once by the API and the pages alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schedules import series as series_domain
from schedules.clock import utcnow
from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from schedules.occurrences import list_occurrences
from schedules.schemas import OccurrenceUpdate, SeriesCreate, SeriesUpdate
from tracker.domain import claims, credit_rules, occurrences, self_registrations
from tracker.domain.attendance import occurrences_with_attendance
from tracker.domain.credit_types import credit_labels
from tracker.errors import FinalCreditsError
from tracker.services import projections
from tracker.services.context import Services


async def create_series(services: Services, data: SeriesCreate) -> Series:
    async with services.database.session() as session:
        labels = await credit_labels(session)
        series = await series_domain.create_series(session, data, credit_types=labels, now=utcnow())
        await session.commit()
    return series


async def update_series(services: Services, series_id: int, data: SeriesUpdate) -> Series:
    """Edit a series. An edit that would remove an occurrence holding attendance, or change the
    window of one holding final credits, is refused (as a move of that occurrence alone is);
    the awards of other occurrences with attendance whose window changed are recomputed. Seats a
    new capacity adds go to those on the waitlist, in order, in the same transaction."""
    promoted = []
    async with services.database.session() as session:
        labels = await credit_labels(session)
        before = await occurrences.windows(session, series_id)
        series = await series_domain.update_series(
            session,
            series_id,
            data,
            credit_types=labels,
            now=utcnow(),
            guard=occurrences_with_attendance,
        )
        shifted = await occurrences.moved(session, series_id, before)
        held = await occurrences.holding_final_credits(session, shifted)
        if held:
            await session.rollback()
            raise FinalCreditsError(min(held))
        attended = await occurrences_with_attendance(session, shifted) if shifted else set()
        if data.claim_window_days is not None:  # claims not made yet close on the new date
            await claims.move_closing(session, series)
        if "capacity" in data.model_fields_set:
            await session.flush()
            series = await self_registrations.lock_series(session, series_id)
            promoted = await self_registrations.fill_seats(
                session, services.mail, series, now=utcnow()
            )
        await session.commit()
    if attended:
        await projections.windows_changed(services, attended)
    if promoted:
        services.poke()
    return series


async def final_sessions_keeping_rules(services: Services, series_id: int) -> int:
    """How many of the series' final sessions keep credit rules other than the series' rules
    now (:mod:`tracker.domain.credit_rules`): an edit of the rules does not reach them."""
    async with services.database.session() as session:
        series = await series_domain.get_series(session, series_id)
        return await credit_rules.final_sessions_keeping_rules(session, series)


async def change_occurrence(
    services: Services, occurrence_id: int, change: OccurrenceUpdate
) -> Occurrence:
    """Cancel, restore or move one occurrence. When its sequence changed, its awards are
    recomputed and its registered physicians get a notice; a change that alters nothing (the
    same move twice) tells nobody. Raises ``FinalCreditsError`` for a change that would void
    final credits."""
    async with services.database.session() as session:
        occurrence, changed = await occurrences.change_occurrence(
            session, occurrence_id, change, now=utcnow()
        )
        await session.commit()
    if changed:
        await projections.occurrence_changed(services, occurrence_id)
    return occurrence


async def holds_final_credits(services: Services, occurrence_id: int) -> bool:
    """Whether the occurrence holds final credits: cancelling or moving it is refused."""
    async with services.database.session() as session:
        return bool(await occurrences.holding_final_credits(session, [occurrence_id]))


async def get_series(services: Services, series_id: int) -> Series:
    """Raises ``NotFoundError`` for an unknown series."""
    async with services.database.session() as session:
        return await series_domain.get_series(session, series_id)


async def all_series(services: Services) -> list[Series]:
    async with services.database.session() as session:
        return await series_domain.list_series(session)


@dataclass(frozen=True)
class SeriesOverview:
    """A series as its organiser page shows it: one page of its sessions (``more``: another
    page follows), which of them already hold final credits, and per session the physicians
    registered to the series and those who attended (``counts``, one grouped query)."""

    series: Series
    occurrences: list[Occurrence]
    final: set[int]
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)
    more: bool = False
    #: Sessions of the whole series whose credits are final, and how many of them keep credit
    #: rules other than the series' rules now (:mod:`tracker.domain.credit_rules`).
    final_sessions: int = 0
    keeping_rules: int = 0


async def series_overview(
    services: Services,
    series_id: int,
    *,
    window: Callable[[str], tuple[datetime, datetime | None]],
    offset: int = 0,
    limit: int = 30,
) -> SeriesOverview:
    """The sessions starting between the instants ``window`` gives for the series' timezone
    (so that days asked are the series' own days). Raises ``NotFoundError`` for an unknown
    series."""
    async with services.database.session() as session:
        series = await series_domain.get_series(session, series_id)
        since, until = window(series.timezone)
        overlapping = await list_occurrences(session, series_id, start_from=since, until=until)
        # a session belongs to the day it starts on, not to the day it runs into
        shown = [o for o in overlapping if o.start >= since]
        rows = shown[offset : offset + limit]
        ids = [o.id for o in rows if o.id is not None]
        final = await occurrences.holding_final_credits(session, ids)
        registered = await occurrences.registered_count(session, series_id)
        attended = await occurrences.attended_counts(session, ids)
        final_sessions = await credit_rules.final_sessions(session, series)
        keeping = await credit_rules.final_sessions_keeping_rules(session, series)
    counts = {i: (registered, attended.get(i, 0)) for i in ids}
    return SeriesOverview(
        series,
        rows,
        final,
        counts,
        more=len(shown) > offset + limit,
        final_sessions=final_sessions,
        keeping_rules=keeping,
    )


async def occurrence_of(services: Services, occurrence_id: int) -> tuple[Occurrence, Series]:
    """An occurrence with its series; raises ``NotFoundError`` for an unknown occurrence."""
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None:
            raise NotFoundError("occurrence", occurrence_id)
        return occurrence, await session.get_one(Series, occurrence.series_id)


async def public_upcoming(
    services: Services, *, now: datetime, within: timedelta, per_series: int
) -> list[tuple[Series, list[Occurrence]]]:
    """Every public series with its next sessions (at most ``per_series``, starting before
    ``now + within``): what the public home shows."""
    async with services.database.session() as session:
        shown = [s for s in await series_domain.list_series(session) if s.public]
        return [
            (
                series,
                (
                    await list_occurrences(
                        session, series.id or 0, start_from=now, until=now + within
                    )
                )[:per_series],
            )
            for series in shown
        ]
