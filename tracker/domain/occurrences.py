"""Changing one occurrence as the service allows it: the API and the organiser's pages both come
here. ``schedules`` makes the change; this module refuses one that would void credits already
final (certificates may have gone out; boards may have been told).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules import occurrences as occurrence_domain
from schedules.models import Occurrence, OccurrenceStatus
from schedules.schemas import OccurrenceUpdate
from tracker.domain import revocations
from tracker.domain.models import Award, Registration
from tracker.errors import FinalCreditsError

Windows = dict[int, tuple[datetime, datetime]]


async def windows(session: AsyncSession, series_id: int) -> Windows:
    """Each occurrence of the series as it stands: its start and end."""
    query = select(Occurrence.id, Occurrence.start, Occurrence.end).where(
        Occurrence.series_id == series_id
    )
    return {i: (start, end) for i, start, end in (await session.exec(query)).all() if i is not None}


async def moved(session: AsyncSession, series_id: int, before: Windows) -> list[int]:
    """The occurrences of the series whose window differs from ``before`` (after a series edit
    that rewrote its schedule, flushed)."""
    after = await windows(session, series_id)
    return sorted(i for i, window in after.items() if i in before and before[i] != window)


async def holding_final_credits(session: AsyncSession, occurrence_ids: list[int]) -> set[int]:
    """Which of these occurrences hold a final award with some credit."""
    if not occurrence_ids:
        return set()
    query = select(Award.occurrence_id, Award.credits).where(
        col(Award.occurrence_id).in_(occurrence_ids),
        col(Award.final).is_(True),
        col(Award.seconds) > 0,
    )
    return {
        occurrence_id
        for occurrence_id, credits in (await session.exec(query)).all()
        if any(amount > 0 for amount in credits.values())
    }


async def registered_count(session: AsyncSession, series_id: int) -> int:
    """Physicians registered to the series (registration is per series, SPEC 3)."""
    query = (
        select(func.count()).select_from(Registration).where(Registration.series_id == series_id)
    )
    return int((await session.exec(query)).one())


async def attended_counts(session: AsyncSession, occurrence_ids: list[int]) -> dict[int, int]:
    """``{occurrence id: physicians with some attendance}``, in one grouped query."""
    if not occurrence_ids:
        return {}
    query = (
        select(Award.occurrence_id, func.count())
        .where(col(Award.occurrence_id).in_(occurrence_ids), col(Award.seconds) > 0)
        .group_by(col(Award.occurrence_id))
    )
    return {int(i): int(n) for i, n in (await session.exec(query)).all()}


def _voids(before: tuple[str, datetime, datetime], after: Occurrence) -> bool:
    """Whether the change cancels the occurrence or changes its window (its credits with it)."""
    status, start, end = before
    cancelled = after.status == OccurrenceStatus.CANCELLED and status != OccurrenceStatus.CANCELLED
    return cancelled or (after.start, after.end) != (start, end)


async def change_occurrence(
    session: AsyncSession, occurrence_id: int, change: OccurrenceUpdate, *, now: datetime
) -> tuple[Occurrence, bool]:
    """Cancel, restore or move one occurrence (flushed, not committed); returns it and whether
    anything changed. Raises :class:`FinalCreditsError` (and rolls back) when the change would
    cancel or move an occurrence whose credits are final; restoring a cancelled one that keeps
    its window is allowed."""
    occurrence = await occurrence_domain.get_occurrence(session, occurrence_id)
    before = (occurrence.status, occurrence.start, occurrence.end)
    sequence = occurrence.sequence
    occurrence = await occurrence_domain.update_occurrence(session, occurrence_id, change, now=now)
    if _voids(before, occurrence) and await holding_final_credits(session, [occurrence_id]):
        await session.rollback()
        raise FinalCreditsError(occurrence_id)
    return occurrence, occurrence.sequence != sequence


@dataclass(frozen=True)
class SessionSummary:
    """One session's attendance in figures: registered to the series, attended (some time
    connected), the median minutes of those who attended, those credited (a revoked
    certificate's holder is not), and those who reached
    the series' minimum attendance (``threshold_minutes`` None: the series sets none)."""

    registered: int
    attended: int
    median_minutes: float | None
    credited: int
    over_threshold: int
    threshold_minutes: float | None
    #: Attendees whose certificate the organiser revoked (not among ``credited``).
    revoked: int = 0


async def session_summary(
    session: AsyncSession, occurrence: Occurrence, min_attendance_percent: float | None
) -> SessionSummary:
    """Two queries: the registrations' count and the session's awards (seconds, credits)."""
    registered = await registered_count(session, occurrence.series_id)
    rows = (
        await session.exec(
            select(
                Award.seconds,
                Award.credits,
                revocations.session_revoked(Award.occurrence_id, Award.physician_id),
            ).where(Award.occurrence_id == occurrence.id, col(Award.seconds) > 0)
        )
    ).all()
    minutes = [seconds / 60 for seconds, _, _ in rows]
    threshold = (
        None
        if min_attendance_percent is None
        else (occurrence.end - occurrence.start).total_seconds() / 60 * min_attendance_percent / 100
    )
    return SessionSummary(
        registered=registered,
        attended=len(rows),
        median_minutes=round(median(minutes), 1) if minutes else None,
        credited=sum(1 for _, credits, revoked in rows if not revoked and any(credits.values())),
        revoked=sum(1 for _, _, revoked in rows if revoked),
        over_threshold=sum(1 for m in minutes if threshold is not None and m >= threshold),
        threshold_minutes=threshold,
    )
