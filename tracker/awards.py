"""The credit projection: awards recomputed from stored facts, finalised after the grace period.

Every function here recomputes from the append-only events, so running one twice, late, or in
two processes gives the same rows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from tracker.credits import ROUNDINGS, Attendance, Fact, Kind, Rounding, attendance, credits_for
from tracker.models import (
    AttendanceEvent,
    Award,
    CreditType,
    OccurrenceClosure,
    Physician,
    Requirement,
)

log = logging.getLogger(__name__)


async def _roundings(session: AsyncSession) -> dict[str, Rounding]:
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.rounding for row in rows if row.rounding in ROUNDINGS}


async def is_closed(session: AsyncSession, occurrence_id: int) -> bool:
    return await session.get(OccurrenceClosure, occurrence_id) is not None


async def _facts(
    session: AsyncSession, occurrence_id: int, physician_id: int | None = None
) -> dict[int, list[Fact]]:
    """Each physician's facts at one occurrence (the platform's end events added to each's)."""
    query = select(
        AttendanceEvent.physician_id,
        AttendanceEvent.kind,
        AttendanceEvent.at,
        AttendanceEvent.connection_id,
    ).where(AttendanceEvent.occurrence_id == occurrence_id)
    if physician_id is not None:
        query = query.where(
            or_(AttendanceEvent.physician_id == physician_id, AttendanceEvent.kind == "ended")
        )
    ended: list[Fact] = []
    by_physician: dict[int, list[Fact]] = defaultdict(list)
    for pid, kind, at, connection in (await session.exec(query)).all():
        if kind == "ended":
            ended.append(Fact("ended", at))
        elif pid is not None:
            by_physician[pid].append(Fact(cast(Kind, kind), at, connection))
    return {pid: facts + ended for pid, facts in by_physician.items()}


def _figures(
    facts: list[Fact],
    occurrence: Occurrence,
    series: Series,
    roundings: dict[str, Rounding],
    *,
    now: datetime | None,
) -> tuple[Attendance, dict[str, float]]:
    """Minutes and credits from the facts; ``now`` for provisional figures (open connections
    count up to now), ``None`` for final ones (up to the end)."""
    attended = attendance(facts, start=occurrence.start, end=occurrence.end, now=now)
    credits = credits_for(
        attended,
        duration_minutes=int((occurrence.end - occurrence.start).total_seconds() // 60),
        min_attendance_percent=series.min_attendance_percent,
        designations=series.credits,
        roundings=roundings,
    )
    return attended, credits


async def recompute_award(
    session: AsyncSession, occurrence_id: int, physician_id: int, *, now: datetime
) -> Award | None:
    """Recompute one physician's award at one occurrence from every stored fact; flushes.

    A final award whose credits change gets a new ``version`` (its certificate is re-issued).
    A provisional one is stored as of ``now``; readers bring it up to their own now
    (:func:`credit_summary`, :func:`occurrence_attendance`).
    """
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        return None
    series = await session.get_one(Series, occurrence.series_id)
    final = await is_closed(session, occurrence_id)
    facts = (await _facts(session, occurrence_id, physician_id)).get(physician_id, [])
    attended, credits = _figures(
        facts, occurrence, series, await _roundings(session), now=None if final else now
    )
    award = (
        await session.exec(
            select(Award).where(
                Award.occurrence_id == occurrence_id, Award.physician_id == physician_id
            )
        )
    ).first()
    if award is None:
        award = Award(occurrence_id=occurrence_id, physician_id=physician_id)
        session.add(award)
    elif award.final and final and award.credits != credits:
        award.version += 1
        log.info(
            "final credits of physician %s at occurrence %s changed", physician_id, occurrence_id
        )
    award.seconds = attended.seconds
    award.credits = credits
    award.anomalies = list(attended.anomalies)
    award.computed_at = now
    if final and not award.final:
        award.final, award.finalized_at = True, now
    await session.flush()
    return award


def _as_of(award: Award, attended: Attendance, credits: dict[str, float], now: datetime) -> Award:
    """A detached copy of a provisional award with the figures as of ``now`` (never stored)."""
    return Award(
        id=award.id,
        occurrence_id=award.occurrence_id,
        physician_id=award.physician_id,
        seconds=attended.seconds,
        credits=credits,
        anomalies=list(attended.anomalies),
        final=False,
        version=award.version,
        computed_at=now,
    )


async def _provisional_as_of(
    session: AsyncSession, award: Award, occurrence: Occurrence, series: Series, now: datetime
) -> Award:
    """A final award as stored; a provisional one recomputed with open connections up to now."""
    if award.final:
        return award
    facts = (await _facts(session, occurrence.id or 0, award.physician_id)).get(
        award.physician_id, []
    )
    return _as_of(
        award, *_figures(facts, occurrence, series, await _roundings(session), now=now), now
    )


async def recompute_occurrence(session: AsyncSession, occurrence_id: int, *, now: datetime) -> int:
    """Recompute the awards of everyone with a fact at this occurrence; returns how many."""
    query = select(AttendanceEvent.physician_id).where(
        AttendanceEvent.occurrence_id == occurrence_id,
        col(AttendanceEvent.physician_id).is_not(None),
    )
    physician_ids = sorted({pid for pid in (await session.exec(query)).all() if pid is not None})
    for physician_id in physician_ids:
        await recompute_award(session, occurrence_id, physician_id, now=now)
    return len(physician_ids)


async def finalize_occurrence(
    session: AsyncSession, occurrence_id: int, *, now: datetime, grace: timedelta
) -> bool:
    """Make an occurrence's credits final once ``end + grace`` has passed; commits.

    The closure row is the claim: of several processes, exactly one finalises.
    """
    occurrence = await session.get(Occurrence, occurrence_id)
    if (
        occurrence is None
        or occurrence.end + grace > now
        or await is_closed(session, occurrence_id)
    ):
        return False
    session.add(OccurrenceClosure(occurrence_id=occurrence_id, closed_at=now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    count = await recompute_occurrence(session, occurrence_id, now=now)
    await session.commit()
    log.info("credits of occurrence %s are final (%d physicians)", occurrence_id, count)
    return True


async def due_for_finalisation(
    session: AsyncSession, *, now: datetime, grace: timedelta, until: datetime | None = None
) -> list[tuple[int, datetime]]:
    """Open occurrences with their finalisation time, due by ``until`` (default: ``now``)."""
    limit = (until or now) - grace
    query = (
        select(Occurrence.id, Occurrence.end)
        .outerjoin(OccurrenceClosure, col(OccurrenceClosure.occurrence_id) == col(Occurrence.id))
        .where(col(OccurrenceClosure.occurrence_id).is_(None), Occurrence.end <= limit)
        .order_by(col(Occurrence.end))
    )
    return [(oid, end + grace) for oid, end in (await session.exec(query)).all() if oid is not None]


def _local_date(value: datetime, timezone: str) -> date:
    return value.astimezone(ZoneInfo(timezone)).date()


async def physician_awards(
    session: AsyncSession, physician_id: int
) -> list[tuple[Award, Occurrence, Series]]:
    query = (
        select(Award, Occurrence, Series)
        .join(Occurrence, col(Occurrence.id) == col(Award.occurrence_id))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(Award.physician_id == physician_id)
        .order_by(col(Occurrence.start))
    )
    return [(a, o, s) for a, o, s in (await session.exec(query)).all()]


def _add(totals: dict[str, float], credits: dict[str, float]) -> None:
    for code, amount in credits.items():
        totals[code] = round(totals.get(code, 0.0) + amount, 2)


async def credit_summary(
    session: AsyncSession, physician_id: int, *, now: datetime | None = None
) -> dict[str, object]:
    """The summary of SPEC 3: totals (all and final), awards, requirements with progress.

    With ``now``, provisional awards count open connections up to ``now`` (a live session
    shows the minutes so far); without, they are as stored.
    """
    physician = await session.get(Physician, physician_id)
    if physician is None:
        raise NotFoundError("physician", physician_id)
    rows = await physician_awards(session, physician_id)
    if now is not None:
        rows = [
            (await _provisional_as_of(session, award, occurrence, series, now), occurrence, series)
            for award, occurrence, series in rows
        ]
    totals: dict[str, float] = {}
    final_totals: dict[str, float] = {}
    awards: list[dict[str, object]] = []
    for award, occurrence, series in rows:
        _add(totals, award.credits)
        if award.final:
            _add(final_totals, award.credits)
        awards.append(
            {
                "occurrence_id": occurrence.id,
                "series_id": series.id,
                "series_title": series.title,
                "start": occurrence.start,
                "end": occurrence.end,
                "minutes": round(award.seconds / 60, 2),
                "final": award.final,
                "credits": award.credits,
            }
        )
    requirements = (
        await session.exec(
            select(Requirement)
            .where(Requirement.physician_id == physician_id)
            .order_by(col(Requirement.id))
        )
    ).all()
    progress = []
    for requirement in requirements:
        earned = sum(
            award.credits.get(requirement.credit_type, 0.0)
            for award, occurrence, _ in rows
            if requirement.start_date
            <= _local_date(occurrence.start, physician.timezone)
            <= requirement.end_date
        )
        progress.append(
            {
                "id": requirement.id,
                "type": requirement.credit_type,
                "required": requirement.required,
                "earned": round(earned, 2),
                "from_": requirement.start_date,
                "to": requirement.end_date,
            }
        )
    return {
        "physician_id": physician_id,
        "totals": totals,
        "final_totals": final_totals,
        "awards": awards,
        "requirements": progress,
    }


async def occurrence_attendance(
    session: AsyncSession, occurrence_id: int, *, now: datetime | None = None
) -> list[tuple[Award, Physician]]:
    """Everyone's award at one occurrence; with ``now``, provisional ones as of ``now`` (one
    read of the occurrence's facts), final ones as stored."""
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        raise NotFoundError("occurrence", occurrence_id)
    query = (
        select(Award, Physician)
        .join(Physician, col(Physician.id) == col(Award.physician_id))
        .where(Award.occurrence_id == occurrence_id)
        .order_by(col(Physician.last_name), col(Physician.first_name))
    )
    rows = [(a, p) for a, p in (await session.exec(query)).all()]
    if now is None or all(award.final for award, _ in rows):
        return rows
    series = await session.get_one(Series, occurrence.series_id)
    roundings = await _roundings(session)
    facts = await _facts(session, occurrence_id)
    return [
        (
            award
            if award.final
            else _as_of(
                award,
                *_figures(
                    facts.get(award.physician_id, []), occurrence, series, roundings, now=now
                ),
                now,
            ),
            physician,
        )
        for award, physician in rows
    ]
