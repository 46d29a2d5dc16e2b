"""Changing one occurrence as the service allows it: the API and the organiser's pages both come
here. ``schedules`` makes the change; this module refuses one that would void credits already
final (certificates may have gone out; boards may have been told).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules import occurrences as occurrence_domain
from schedules.models import Occurrence, OccurrenceStatus
from schedules.schemas import OccurrenceUpdate
from tracker.domain.models import Award, Registration
from tracker.errors import FinalCreditsError


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
