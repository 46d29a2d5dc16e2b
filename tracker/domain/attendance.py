"""Attendance facts: stored append-only and idempotently, matched now or later.

An event that names no known physician or occurrence is kept as *unmatched*; matching only
ever fills in ``physician_id`` / ``occurrence_id`` and never rewrites the fact itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain.models import AttendanceEvent, Physician
from tracker.domain.physicians import email_key

#: Zoom events match the occurrence whose [start - 60 min, end + 60 min] holds them.
MATCH_WINDOW = timedelta(minutes=60)


@dataclass(frozen=True)
class NewEvent:
    source: str
    external_id: str
    kind: str
    at: datetime
    payload: dict[str, Any]
    email: str | None = None
    connection_id: str | None = None
    zoom_webinar_id: str | None = None
    series_id: int | None = None
    requested_occurrence_id: int | None = None
    requested_physician_id: int | None = None


@dataclass
class Recorded:
    accepted: int = 0
    duplicates: int = 0
    unmatched: int = 0
    pairs: set[tuple[int, int]] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)

    def note(self, event: AttendanceEvent) -> None:
        if is_unmatched(event):
            self.unmatched += 1
        elif event.kind == "ended" and event.occurrence_id is not None:
            self.ended.add(event.occurrence_id)
        elif event.occurrence_id is not None and event.physician_id is not None:
            self.pairs.add((event.occurrence_id, event.physician_id))


def is_unmatched(event: AttendanceEvent) -> bool:
    return event.occurrence_id is None or (event.kind != "ended" and event.physician_id is None)


async def _find_occurrence(session: AsyncSession, event: AttendanceEvent) -> int | None:
    if event.requested_occurrence_id is not None:
        found = await session.get(Occurrence, event.requested_occurrence_id)
        return found.id if found else None
    query = select(Occurrence).where(
        Occurrence.start <= event.at + MATCH_WINDOW, Occurrence.end >= event.at - MATCH_WINDOW
    )
    if event.series_id is not None:
        query = query.where(Occurrence.series_id == event.series_id)
    elif event.zoom_webinar_id:
        query = query.join(Series, col(Series.id) == col(Occurrence.series_id)).where(
            Series.zoom_webinar_id == event.zoom_webinar_id
        )
    else:
        return None
    candidates = (await session.exec(query)).all()
    if not candidates:
        return None
    best = min(
        candidates,
        key=lambda o: (
            o.status == OccurrenceStatus.CANCELLED,
            abs((o.start - event.at).total_seconds()),
        ),
    )
    return best.id


async def _find_physician(session: AsyncSession, event: AttendanceEvent) -> int | None:
    if event.requested_physician_id is not None:
        found = await session.get(Physician, event.requested_physician_id)
        if found is not None:
            return found.id
    if event.email:
        query = select(Physician.id).where(Physician.email == event.email)
        return (await session.exec(query)).first()
    return None


async def match(session: AsyncSession, event: AttendanceEvent) -> None:
    """Fill in what can be matched now."""
    if event.occurrence_id is None:
        event.occurrence_id = await _find_occurrence(session, event)
    if event.physician_id is None and event.kind != "ended":
        event.physician_id = await _find_physician(session, event)


def _row(new: NewEvent, now: datetime) -> AttendanceEvent:
    return AttendanceEvent(
        source=new.source,
        external_id=new.external_id,
        kind=new.kind,
        at=new.at,
        email=email_key(new.email) if new.email else None,
        connection_id=new.connection_id,
        zoom_webinar_id=new.zoom_webinar_id,
        series_id=new.series_id,
        requested_occurrence_id=new.requested_occurrence_id,
        requested_physician_id=new.requested_physician_id,
        payload=new.payload,
        received_at=now,
    )


async def _known_ids(session: AsyncSession, source: str, external_ids: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for chunk_start in range(0, len(external_ids), 500):
        chunk = external_ids[chunk_start : chunk_start + 500]
        query = select(AttendanceEvent.external_id).where(
            AttendanceEvent.source == source, col(AttendanceEvent.external_id).in_(chunk)
        )
        known.update((await session.exec(query)).all())
    return known


async def record_events(
    session: AsyncSession, events: Sequence[NewEvent], *, now: datetime
) -> Recorded:
    """Store new facts (the same source and external id twice is stored once) and commit."""
    result = Recorded()
    by_source: dict[str, list[NewEvent]] = {}
    for new in events:
        by_source.setdefault(new.source, []).append(new)
    fresh: list[AttendanceEvent] = []
    for source, group in by_source.items():
        known = await _known_ids(session, source, [e.external_id for e in group])
        for new in group:
            if new.external_id in known:
                result.duplicates += 1
                continue
            known.add(new.external_id)
            fresh.append(_row(new, now))
    for row in fresh:
        await match(session, row)
        session.add(row)
    try:
        await session.commit()
    except IntegrityError:  # another process stored some of them first: go one by one
        await session.rollback()
        return await _record_one_by_one(session, fresh, result)
    for row in fresh:
        result.accepted += 1
        result.note(row)
    return result


async def _record_one_by_one(
    session: AsyncSession, rows: list[AttendanceEvent], result: Recorded
) -> Recorded:
    for row in rows:
        copy = AttendanceEvent.model_validate(row.model_dump(exclude={"id"}))
        session.add(copy)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            result.duplicates += 1
            continue
        result.accepted += 1
        result.note(copy)
    return result


async def unmatched_events(session: AsyncSession, *, limit: int = 1000) -> list[AttendanceEvent]:
    query = (
        select(AttendanceEvent)
        .where(
            or_(
                col(AttendanceEvent.occurrence_id).is_(None),
                (col(AttendanceEvent.physician_id).is_(None)) & (AttendanceEvent.kind != "ended"),
            )
        )
        .order_by(col(AttendanceEvent.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


def unmatched_reason(event: AttendanceEvent) -> str:
    reasons: list[str] = []
    if event.occurrence_id is None:
        if event.requested_occurrence_id is not None:
            reasons.append(f"occurrence {event.requested_occurrence_id} does not exist")
        elif event.zoom_webinar_id and event.series_id is None:
            reasons.append(
                f"no occurrence of Zoom webinar {event.zoom_webinar_id} around {event.at.isoformat()}"
            )
        else:
            reasons.append(f"no occurrence of the series around {event.at.isoformat()}")
    if event.kind != "ended" and event.physician_id is None:
        if event.requested_physician_id is not None and not event.email:
            reasons.append(f"physician {event.requested_physician_id} does not exist")
        elif not event.email:
            name = event.payload.get("name") if isinstance(event.payload, dict) else None
            named = f" ({name})" if isinstance(name, str) and name else ""
            reasons.append(f"no email address{named} to match a physician by")
        else:
            reasons.append(f"no physician with email {event.email}")
    return "; ".join(reasons)


async def match_pending(session: AsyncSession) -> Recorded:
    """Try every unmatched event again (after a physician, series or occurrence appeared); commits."""
    result = Recorded()
    for event in await unmatched_events(session, limit=100_000):
        await match(session, event)
        if not is_unmatched(event):
            result.note(event)
    await session.commit()
    return result


async def occurrences_with_attendance(session: AsyncSession, occurrence_ids: list[int]) -> set[int]:
    """Which of these occurrences hold attendance events (a series edit must not remove them)."""
    query = select(AttendanceEvent.occurrence_id).where(
        col(AttendanceEvent.occurrence_id).in_(occurrence_ids)
    )
    return {oid for oid in (await session.exec(query)).all() if oid is not None}
