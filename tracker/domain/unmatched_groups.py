"""Unmatched attendance events grouped per person and session (issue 12): a physician whose
address the service does not know joins and leaves several times; the organiser matches, or
dismisses, all of it in one action. Events without an address stay one per group (nothing says
two of them are the same person). Takes a session, flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import AttendanceEvent


@dataclass(frozen=True)
class GroupKey:
    """Who (the address, or the event id as text when there is none) and where (occurrence,
    series and Zoom webinar as the events name them)."""

    who: str
    occurrence_id: int | None
    series_id: int | None
    zoom_webinar_id: str | None


@dataclass(frozen=True)
class UnmatchedGroup:
    key: GroupKey
    email: str | None
    events: int
    first_at: datetime
    last_at: datetime
    #: One of the group's events, to say why it is unmatched.
    sample_id: int


def _who() -> ColumnElement[str]:
    return func.coalesce(col(AttendanceEvent.email), cast(col(AttendanceEvent.id), String))


def _waiting() -> ColumnElement[bool]:
    """Unmatched (no session, or no physician for a join or leave) and not dismissed."""
    return and_(
        col(AttendanceEvent.dismissed).is_(False),
        or_(
            col(AttendanceEvent.occurrence_id).is_(None),
            and_(col(AttendanceEvent.physician_id).is_(None), col(AttendanceEvent.kind) != "ended"),
        ),
    )


def _same(column: Any, value: object) -> ColumnElement[bool]:
    same: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return same


def _in_group(key: GroupKey) -> list[ColumnElement[bool]]:
    return [
        _waiting(),
        _who() == key.who,
        _same(col(AttendanceEvent.occurrence_id), key.occurrence_id),
        _same(col(AttendanceEvent.series_id), key.series_id),
        _same(col(AttendanceEvent.zoom_webinar_id), key.zoom_webinar_id),
    ]


async def unmatched_groups(
    session: AsyncSession, *, offset: int, limit: int, search: str | None = None
) -> tuple[list[UnmatchedGroup], bool]:
    """One page of groups, oldest first, and whether another follows; ``search``: a part of
    the address (any case)."""
    who = _who().label("who")
    query = (
        sa_select(
            who,
            col(AttendanceEvent.occurrence_id),
            col(AttendanceEvent.series_id),
            col(AttendanceEvent.zoom_webinar_id),
            func.max(col(AttendanceEvent.email)),
            func.count(),
            func.min(col(AttendanceEvent.at)),
            func.max(col(AttendanceEvent.at)),
            func.min(col(AttendanceEvent.id)),
        )
        .where(_waiting())
        .group_by(
            who,
            col(AttendanceEvent.occurrence_id),
            col(AttendanceEvent.series_id),
            col(AttendanceEvent.zoom_webinar_id),
        )
        .order_by(func.min(col(AttendanceEvent.id)))
        .offset(offset)
        .limit(limit + 1)
    )
    if search:
        query = query.where(func.lower(col(AttendanceEvent.email)).contains(search.lower()))
    # nine columns: past sqlmodel's typed select overloads (the rows are SQLAlchemy's)
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    groups = [
        UnmatchedGroup(
            GroupKey(str(w), occurrence_id, series_id, zoom_id),
            email,
            int(count),
            first_at,
            last_at,
            int(sample),
        )
        for w, occurrence_id, series_id, zoom_id, email, count, first_at, last_at, sample in rows
    ]
    return groups[:limit], len(groups) > limit


async def group_events(session: AsyncSession, key: GroupKey) -> list[AttendanceEvent]:
    query = select(AttendanceEvent).where(*_in_group(key)).order_by(col(AttendanceEvent.id))
    return list((await session.exec(query)).all())


async def dismiss_group(session: AsyncSession, key: GroupKey) -> int:
    """Take the group off the list (the events are kept); returns how many."""
    result = await session.exec(
        update(AttendanceEvent).where(*_in_group(key)).values(dismissed=True)
    )
    await session.flush()
    return int(result.rowcount or 0)
