"""Attendance use cases beyond recording: an organiser matching a kept event by hand, the
attendance of one session as its page shows it, and the completions export."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from tracker.domain import credit_rules, exports, listing, physicians
from tracker.domain import unmatched_groups as unmatched_groups_domain
from tracker.domain.attendance import mark_pending, match
from tracker.domain.listing import Attendee, Page, PageRequest
from tracker.domain.models import AttendanceEvent
from tracker.domain.occurrences import SessionSummary, session_summary
from tracker.domain.presence import connected_per_minute
from tracker.domain.unmatched_groups import GroupKey, UnmatchedGroup, group_events
from tracker.domain.unmatched_groups import unmatched_groups as unmatched_groups_of
from tracker.services import ingestion
from tracker.services.context import Services


async def match_by_hand(services: Services, event_id: int, email: str) -> bool:
    """Give an unmatched event the physician with this address (the fact itself is never
    changed); False when no physician has it. Raises ``NotFoundError`` for an unknown event."""
    async with services.database.session() as session:
        event = await session.get(AttendanceEvent, event_id)
        if event is None:
            raise NotFoundError("attendance event", event_id)
        physician = await physicians.physician_by_email(session, email)
        if physician is None:
            return False
        event.physician_id = physician.id
        await match(session, event)
        occurrence_id, physician_id = event.occurrence_id, event.physician_id
        if occurrence_id is not None and physician_id is not None:
            await mark_pending(session, [(occurrence_id, physician_id)])
        await session.commit()
    if occurrence_id is not None and physician_id is not None:
        await ingestion.project_soon(services)
    return True


@dataclass(frozen=True)
class OccurrenceAttendance:
    """One session as its organiser page shows it: who attended (a page of them, by name)
    and how many were connected in each minute."""

    occurrence: Occurrence
    series: Series
    attendees: Page[Attendee]
    per_minute: list[int]
    summary: SessionSummary | None = None


async def occurrence_attendance(
    services: Services, occurrence_id: int, asked: PageRequest, *, search: str | None = None
) -> OccurrenceAttendance:
    """Raises ``NotFoundError`` for an unknown occurrence; pending awards are recomputed first."""
    await ingestion.settle(services, occurrence_id=occurrence_id)
    now = utcnow()
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None:
            raise NotFoundError("occurrence", occurrence_id)
        series = await session.get_one(Series, occurrence.series_id)
        attendees = await listing.attendance_page(
            session, occurrence_id, asked, now=now, search=search
        )
        per_minute = await connected_per_minute(session, occurrence, now=now)
        rules = await credit_rules.session_rules(session, occurrence, series)
        summary = await session_summary(session, occurrence, rules.min_attendance_percent)
    return OccurrenceAttendance(occurrence, series, attendees, per_minute, summary)


@dataclass(frozen=True)
class CompletionBatch:
    #: The export's columns (the same in every batch).
    header: list[str]
    rows: list[list[str]]


async def completions(
    services: Services, period: exports.Period
) -> AsyncGenerator[CompletionBatch, None]:
    """The completions export, batch after batch, each read in its own short session (after
    the last one's key): an export of any size holds one batch, and no connection waits on a
    slow reader between two batches."""
    async with services.database.session() as session:
        header = await exports.completion_header(session)
        rows, after = await exports.completion_batch(session, header, period=period)
    yield CompletionBatch(header, rows)
    while after is not None:
        async with services.database.session() as session:
            rows, after = await exports.completion_batch(
                session, header, period=period, after=after
            )
        yield CompletionBatch(header, rows)


#: Attendees read per query for a session's CSV (the session is reopened between batches).
ATTENDANCE_BATCH = 1000


async def attendance_rows(
    services: Services, occurrence_id: int
) -> AsyncGenerator[list[Attendee], None]:
    """Every attendee of a session with their award, by name, batch after batch (each in its
    own short session), provisional awards as of now: the organiser's CSV export. Raises
    ``NotFoundError`` for an unknown occurrence (at the first batch)."""
    await ingestion.settle(services, occurrence_id=occurrence_id)
    asked = PageRequest(ATTENDANCE_BATCH)
    while True:
        async with services.database.session() as session:
            page = await listing.attendance_page(session, occurrence_id, asked, now=utcnow())
        yield page.rows
        if page.next_key is None:
            return
        asked = PageRequest(ATTENDANCE_BATCH, page.next_key)


async def unmatched_groups(
    services: Services, *, offset: int, limit: int, search: str | None = None
) -> tuple[list[tuple[UnmatchedGroup, AttendanceEvent, str]], bool]:
    """A page of unmatched events grouped per person and session, each with one of its events
    (to say why it is unmatched) and the timezone to show its times in (its series', else
    UTC), and whether another page follows."""
    async with services.database.session() as session:
        groups, more = await unmatched_groups_of(session, offset=offset, limit=limit, search=search)
        samples = {
            e.id: e
            for e in (
                await session.exec(
                    select(AttendanceEvent).where(
                        col(AttendanceEvent.id).in_([g.sample_id for g in groups])
                    )
                )
            ).all()
        }
        zones = await _zones(session, groups)
    return [(g, samples[g.sample_id], zones.get(g.key, "UTC")) for g in groups], more


async def _zones(session: AsyncSession, groups: list[UnmatchedGroup]) -> dict[GroupKey, str]:
    """The timezone of each group's series, found by its session or else its series."""
    occurrence_ids = {g.key.occurrence_id for g in groups if g.key.occurrence_id is not None}
    series_ids = {g.key.series_id for g in groups if g.key.series_id is not None}
    by_occurrence = dict(
        (
            await session.exec(
                select(Occurrence.id, Series.timezone)
                .join(Series, col(Series.id) == col(Occurrence.series_id))
                .where(col(Occurrence.id).in_(occurrence_ids))
            )
        ).all()
    )
    by_series = dict(
        (
            await session.exec(
                select(Series.id, Series.timezone).where(col(Series.id).in_(series_ids))
            )
        ).all()
    )
    zones = {}
    for g in groups:
        zone = by_occurrence.get(g.key.occurrence_id) or by_series.get(g.key.series_id)
        if zone is not None:
            zones[g.key] = zone
    return zones


async def match_group_by_hand(services: Services, key: GroupKey, email: str) -> int | None:
    """Give every event of the group the physician with this address; None when no physician
    has it, else how many events were matched."""
    async with services.database.session() as session:
        physician = await physicians.physician_by_email(session, email)
        if physician is None:
            return None
        events = await group_events(session, key)
        pending: set[tuple[int, int]] = set()
        for event in events:
            event.physician_id = physician.id
            await match(session, event)
            if event.occurrence_id is not None and event.physician_id is not None:
                pending.add((event.occurrence_id, event.physician_id))
        if pending:
            await mark_pending(session, sorted(pending))
        await session.commit()
    if pending:
        await ingestion.project_soon(services)
    return len(events)


async def dismiss_group(services: Services, key: GroupKey) -> int:
    """Take a group of unmatched events off the organiser's list; the facts are kept."""
    async with services.database.session() as session:
        count = await unmatched_groups_domain.dismiss_group(session, key)
        await session.commit()
    return count
