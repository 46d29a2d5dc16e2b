"""Materialised occurrences: kept in step with their series, cancelled, moved, restored.

Identity rule: when a series is edited, an occurrence keeps its row (and id) if the new rule
still produces its start; otherwise it takes over the new start of the same local day, so
moving a weekly series from 12:30 to 13:00 keeps every occurrence's id. Cancelled and moved
occurrences keep their status; a moved one keeps its own start and end.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError, OccurrenceConflictError
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.recurrence import (
    HORIZON,
    MAX_OCCURRENCES,
    check_expansion,
    expand,
    resolve_timezone,
    to_utc,
)
from schedules.schemas import OccurrenceUpdate
from schedules.window import check_instant, check_local

#: Given occurrence ids an edit would remove, the ones that hold data and must stay.
Guard = Callable[[AsyncSession, list[int]], Awaitable[set[int]]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """The starts a rule gives up to the horizon: computed before anything is written, so
    that a slow expansion never runs while a write transaction (SQLite's lock) is open."""

    starts: list[datetime]
    horizon_end: datetime


async def plan_schedule(
    *, rule: str | None, start_local: datetime, tz: ZoneInfo, now: datetime, strict: bool
) -> Schedule:
    """Expand ``rule`` from ``start_local`` up to ``now`` (or the first start) + :data:`HORIZON`.

    ``strict`` refuses rules with no occurrence, more than 1,000, or several on one day (API
    edits); the horizon job passes ``False`` and keeps the first 1,000. Reads and writes
    nothing.
    """
    horizon_end = max(now, to_utc(start_local, tz)) + HORIZON
    starts = await expand(rule=rule, start_local=start_local, tz=tz, until=horizon_end)
    if strict:
        check_expansion(starts, has_rule=rule is not None, tz=tz)
    return Schedule(starts[:MAX_OCCURRENCES], horizon_end)


async def sync_occurrences(
    session: AsyncSession,
    series: Series,
    *,
    now: datetime,
    strict: bool,
    guard: Guard | None = None,
) -> None:
    """Bring the series' occurrences in line with its rule (see :func:`plan_schedule`)."""
    schedule = await plan_schedule(
        rule=series.rrule,
        start_local=series.start_local,
        tz=resolve_timezone(series.timezone),
        now=now,
        strict=strict,
    )
    await apply_schedule(session, series, schedule, now=now, guard=guard)


async def apply_schedule(
    session: AsyncSession,
    series: Series,
    schedule: Schedule,
    *,
    now: datetime,
    guard: Guard | None = None,
) -> None:
    """Write ``schedule`` as the series' occurrences, keeping each one's identity.

    ``guard`` names occurrences that hold data elsewhere: removing one is refused with
    :class:`OccurrenceConflictError`.
    """
    if series.id is None:
        raise ValueError("flush the series before materialising its occurrences")
    series_id = series.id
    tz = resolve_timezone(series.timezone)
    series.horizon_end = schedule.horizon_end
    duration = timedelta(minutes=series.duration_minutes)

    existing = list(
        (await session.exec(select(Occurrence).where(Occurrence.series_id == series_id))).all()
    )
    by_start = {occurrence.recurrence_id: occurrence for occurrence in existing}
    wanted = set(schedule.starts)
    leftovers: dict[object, list[Occurrence]] = defaultdict(list)
    for occurrence in sorted(existing, key=lambda o: o.recurrence_id):
        if occurrence.recurrence_id not in wanted:
            leftovers[occurrence.recurrence_id.astimezone(tz).date()].append(occurrence)

    for start in schedule.starts:
        same_day = leftovers.get(start.astimezone(tz).date())
        found = by_start.get(start) or (same_day.pop(0) if same_day else None)
        if found is None:
            session.add(
                Occurrence(
                    series_id=series_id,
                    recurrence_id=start,
                    start=start,
                    end=start + duration,
                    status=OccurrenceStatus.SCHEDULED,
                    sequence=series.sequence,
                    updated_at=now,
                )
            )
            continue
        _follow_rule(found, start, duration, series.sequence, now)

    stale = [o.id for group in leftovers.values() for o in group if o.id is not None]
    held = await guard(session, stale) if guard and stale else set()
    if held:
        raise OccurrenceConflictError(
            min(held),
            f"this change would remove {len(held)} occurrence(s) that hold attendance; cancel them "
            "instead, or end the series with UNTIL and create a new one",
        )
    if stale:
        await session.exec(delete(Occurrence).where(col(Occurrence.id).in_(stale)))
    await session.flush()


def _follow_rule(
    occurrence: Occurrence, start: datetime, duration: timedelta, sequence: int, now: datetime
) -> None:
    before = (occurrence.recurrence_id, occurrence.start, occurrence.end)
    occurrence.recurrence_id = start
    if occurrence.status != OccurrenceStatus.MOVED:
        occurrence.start, occurrence.end = start, start + duration
    if (occurrence.recurrence_id, occurrence.start, occurrence.end) != before:
        occurrence.sequence = sequence
        occurrence.updated_at = now


async def extend_horizons(session: AsyncSession, *, now: datetime) -> int:
    """Materialise recurring series up to ``now`` + horizon; returns how many were extended.

    A series whose stored rule can no longer be expanded (stored before the checks of this
    version) is logged and skipped: it must not stop the others.
    """
    due = (now + HORIZON) - timedelta(days=1)
    series_list = (
        await session.exec(
            select(Series).where(col(Series.rrule).is_not(None), Series.horizon_end < due)
        )
    ).all()
    extended = 0
    for series in series_list:
        try:
            schedule = await plan_schedule(
                rule=series.rrule,
                start_local=series.start_local,
                tz=resolve_timezone(series.timezone),
                now=now,
                strict=False,
            )
        except (InvalidInputError, OverflowError, ValueError) as exc:
            logger.warning("horizon of series %s not extended: %s", series.id, exc)
            continue
        await apply_schedule(session, series, schedule, now=now)
        extended += 1
    return extended


async def get_occurrence(session: AsyncSession, occurrence_id: int) -> Occurrence:
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        raise NotFoundError("occurrence", occurrence_id)
    return occurrence


async def list_occurrences(
    session: AsyncSession,
    series_id: int,
    *,
    start_from: datetime | None = None,
    until: datetime | None = None,
) -> list[Occurrence]:
    """Occurrences overlapping [start_from, until), in start order (cancelled ones included)."""
    query = select(Occurrence).where(Occurrence.series_id == series_id)
    if start_from is not None:
        query = query.where(Occurrence.end > start_from)
    if until is not None:
        query = query.where(Occurrence.start < until)
    query = query.order_by(col(Occurrence.start), col(Occurrence.id))
    return list((await session.exec(query)).all())


async def update_occurrence(
    session: AsyncSession, occurrence_id: int, change: OccurrenceUpdate, *, now: datetime
) -> Occurrence:
    """Cancel, restore or move one occurrence; every real change raises the sequence."""
    occurrence = await get_occurrence(session, occurrence_id)
    series = await session.get_one(Series, occurrence.series_id)
    moving = change.start is not None or change.duration_minutes is not None
    if change.status is None and not moving:
        raise InvalidInputError("body", 'give "status", or "start" and/or "duration_minutes"')
    if change.status is not None and moving:
        raise InvalidInputError("body", 'give either "status" or a new start/duration, not both')

    if change.status == "cancelled":
        if occurrence.status == OccurrenceStatus.CANCELLED:
            return occurrence
        occurrence.status = OccurrenceStatus.CANCELLED
    elif change.status == "scheduled":
        rule_start = occurrence.recurrence_id
        rule_end = rule_start + timedelta(minutes=series.duration_minutes)
        if occurrence.status == OccurrenceStatus.SCHEDULED and (
            occurrence.start,
            occurrence.end,
        ) == (rule_start, rule_end):
            return occurrence
        occurrence.status = OccurrenceStatus.SCHEDULED
        occurrence.start, occurrence.end = rule_start, rule_end
    else:
        if occurrence.status == OccurrenceStatus.CANCELLED:
            raise OccurrenceConflictError(
                occurrence_id, 'it is cancelled; restore it with {"status": "scheduled"} first'
            )
        start = occurrence.start
        if change.start is not None:
            start = _moved_start(change.start, resolve_timezone(series.timezone), now=now)
            if start < now <= occurrence.start:
                # a slip of the month or year would take it off every upcoming list and
                # email everyone; a session already held can still be set to its real time
                raise InvalidInputError(
                    "start", "is in the past: a session to come can only be moved to a time to come"
                )
        minutes = change.duration_minutes or int(
            (occurrence.end - occurrence.start).total_seconds() // 60
        )
        end = start + timedelta(minutes=minutes)
        if (start, end) == (occurrence.start, occurrence.end):
            return occurrence
        occurrence.start, occurrence.end = start, end
        at_rule = start == occurrence.recurrence_id and minutes == series.duration_minutes
        occurrence.status = OccurrenceStatus.SCHEDULED if at_rule else OccurrenceStatus.MOVED

    series.sequence += 1
    series.updated_at = now
    occurrence.sequence = series.sequence
    occurrence.updated_at = now
    await session.flush()
    return occurrence


def _moved_start(given: datetime, tz: ZoneInfo, *, now: datetime) -> datetime:
    """A new start in UTC: local in the series' timezone without an offset; within the window."""
    given = given.replace(microsecond=0)
    if given.tzinfo is None:
        check_local("start", given, tz, now=now)
        return to_utc(given, tz)
    check_instant("start", given, now=now)
    return given.astimezone(UTC)
