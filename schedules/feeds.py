"""Feed documents: a selection of series rendered once, with validators that behave.

The public feed, one series' feed and a physician's feed are the same code with another
selection of series ids.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.ical import FeedEntry, FeedMeta, render_calendar
from schedules.models import FeedState, Occurrence, Series


@dataclass(frozen=True)
class FeedDocument:
    body: bytes
    etag: str
    last_modified: datetime


async def public_series_ids(session: AsyncSession) -> list[int]:
    query = select(Series.id).where(col(Series.public).is_(True)).order_by(col(Series.id))
    return [series_id for series_id in (await session.exec(query)).all() if series_id is not None]


async def load_entries(session: AsyncSession, series_ids: Sequence[int]) -> list[FeedEntry]:
    """The series and their occurrences, loaded in two queries."""
    if not series_ids:
        return []
    series_rows = (
        await session.exec(
            select(Series).where(col(Series.id).in_(series_ids)).order_by(col(Series.id))
        )
    ).all()
    occurrences: dict[int, list[Occurrence]] = defaultdict(list)
    rows = await session.exec(
        select(Occurrence)
        .where(col(Occurrence.series_id).in_(series_ids))
        .order_by(col(Occurrence.recurrence_id))
    )
    for occurrence in rows.all():
        occurrences[occurrence.series_id].append(occurrence)
    return [FeedEntry(series, occurrences[series.id or 0]) for series in series_rows]


def _content_time(entries: Sequence[FeedEntry]) -> datetime | None:
    stamps = [entry.series.updated_at for entry in entries]
    stamps += [o.updated_at for entry in entries for o in entry.occurrences]
    return max(stamps).replace(microsecond=0) if stamps else None


async def render_feed(
    session: AsyncSession, *, key: str, entries: Sequence[FeedEntry], meta: FeedMeta, now: datetime
) -> FeedDocument:
    """Serialise the feed and settle its ``Last-Modified`` (never decreasing); commits."""
    body = render_calendar(entries, meta)
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    state = await session.get(FeedState, key)
    if state is not None and state.etag == etag:
        return FeedDocument(body, etag, state.last_modified)
    candidate = _content_time(entries) or now.replace(microsecond=0)
    if state is not None and candidate <= state.last_modified:
        candidate = state.last_modified + timedelta(seconds=1)
    if state is None:
        session.add(FeedState(key=key, etag=etag, last_modified=candidate))
    else:
        state.etag, state.last_modified = etag, candidate
    try:
        await session.commit()
    except IntegrityError:  # another process stored the same feed first: use its answer
        await session.rollback()
        state = await session.get(FeedState, key)
        if state is not None and state.etag == etag:
            return FeedDocument(body, etag, state.last_modified)
    return FeedDocument(body, etag, candidate)
