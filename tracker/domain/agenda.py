"""Sessions as a physician or a visitor of the public home meets them: which are ahead, which can
be joined now, which one a calendar file may be given for, and why a session attended earned no
credit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain import zoom
from tracker.domain.credit_rules import CreditRules
from tracker.domain.credits import needed_seconds
from tracker.domain.models import Registration

#: The Join button shows from this long before a session's start until its end.
JOIN_OPENS = timedelta(minutes=15)
#: How many sessions ahead the physician's page lists.
UPCOMING_LIMIT = 12


def joinable(occurrence: Occurrence, now: datetime) -> bool:
    """Whether the Join button shows: from :data:`JOIN_OPENS` before the start to the end."""
    return (
        occurrence.status != OccurrenceStatus.CANCELLED
        and occurrence.start - JOIN_OPENS <= now < occurrence.end
    )


async def upcoming_for(
    session: AsyncSession, physician_id: int, *, now: datetime, limit: int = UPCOMING_LIMIT
) -> list[tuple[Occurrence, Series]]:
    """The next sessions (a live one included, cancelled ones too) of the series the physician
    is registered to, in start order; one query, using the occurrence start index."""
    query = (
        select(Occurrence, Series)
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .join(Registration, col(Registration.series_id) == col(Series.id))
        .where(Registration.physician_id == physician_id, col(Occurrence.end) > now)
        .order_by(col(Occurrence.start), col(Occurrence.id))
        .limit(limit)
    )
    found = [(o, s) for o, s in (await session.exec(query)).all()]
    return await zoom.personal_series(session, physician_id, found)  # their own Zoom link


async def registered_occurrence(
    session: AsyncSession, physician_id: int, occurrence_id: int
) -> tuple[Occurrence, Series] | None:
    """One session of a series the physician is registered to (else None: not theirs)."""
    query = (
        select(Occurrence, Series)
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .join(Registration, col(Registration.series_id) == col(Series.id))
        .where(Occurrence.id == occurrence_id, Registration.physician_id == physician_id)
    )
    found = (await session.exec(query)).first()
    if not found:
        return None
    [(occurrence, series)] = await zoom.personal_series(
        session, physician_id, [(found[0], found[1])]
    )
    return occurrence, series


async def public_occurrence(
    session: AsyncSession, occurrence_id: int
) -> tuple[Occurrence, Series] | None:
    """One session of a public series (else None)."""
    query = (
        select(Occurrence, Series)
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(Occurrence.id == occurrence_id, col(Series.public).is_(True))
    )
    found = (await session.exec(query)).first()
    return (found[0], found[1]) if found else None


NoCreditReason = Literal[
    "no_designation", "cancelled", "in_progress", "absent", "below_threshold", "too_short"
]


@dataclass(frozen=True)
class NoCredit:
    """Why a session attended shows 0 credits, with the figures a sentence needs."""

    reason: NoCreditReason
    minutes: float
    needed_minutes: float = 0.0
    percent: float = 0.0


def why_no_credit(
    *,
    seconds: float,
    credits: Mapping[str, float],
    start: datetime,
    end: datetime,
    rules: CreditRules,
    now: datetime,
    cancelled: bool = False,
) -> NoCredit | None:
    """None when the session earned credit; else the reason, by the rules of SPEC 2: no credit
    designated, the session cancelled (a cancelled session attests none), still running, not
    connected within the session, below the session's minimum attendance (step 4), or too short
    for a quarter hour (left early; step 5)."""
    minutes = round(seconds / 60, 2)
    if any(value > 0 for value in credits.values()):
        return None
    if not rules.designations:
        return NoCredit("no_designation", minutes)
    if cancelled:
        return NoCredit("cancelled", minutes)
    if now < end:
        return NoCredit("in_progress", minutes)
    if seconds <= 0:
        return NoCredit("absent", minutes)
    percent = rules.min_attendance_percent
    if percent is not None:
        duration = int((end - start).total_seconds() // 60)
        needed = needed_seconds(duration, str(percent))
        if seconds < needed:
            return NoCredit("below_threshold", minutes, round(needed / 60, 2), percent)
    return NoCredit("too_short", minutes)
