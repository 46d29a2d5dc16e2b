"""Feed documents: a selection of series rendered once, with validators that behave.

The public feed, one series' feed and a physician's feed are the same code with another
selection of series ids.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import icalendar
from sqlalchemy import Connection, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules import designation, ical, vtimezone
from schedules.ical import FeedEntry, FeedMeta
from schedules.models import FeedState, Occurrence, Series


@dataclass(frozen=True)
class FeedValidators:
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class FeedDocument(FeedValidators):
    body: bytes


# The freshness check of a feed is synchronous, on a Connection: a service runs all of it in one
# trip to the database (:meth:`tracker.db.Database.read`), which on SQLite is one hop to a
# reading thread instead of four per statement (aiosqlite's cursor, execute, fetch and close).
_PUBLIC_IDS = select(Series.id).where(col(Series.public).is_(True)).order_by(col(Series.id))
_PUBLIC_BY_SLUG = select(
    col(Series.id), col(Series.slug), col(Series.title), col(Series.description)
).where(col(Series.slug) == bindparam("slug"), col(Series.public).is_(True))
_STATE = select(col(FeedState.etag), col(FeedState.last_modified), col(FeedState.stamp)).where(
    col(FeedState.key) == bindparam("key")
)


class PublicSeries(NamedTuple):
    """What a public series' feed shows of the series itself before it is rendered."""

    id: int
    slug: str
    title: str
    description: str


def public_series_ids(connection: Connection) -> list[int]:
    return [series_id for (series_id,) in connection.execute(_PUBLIC_IDS) if series_id is not None]


def public_series_by_slug(connection: Connection, slug: str) -> PublicSeries | None:
    row = connection.execute(_PUBLIC_BY_SLUG, {"slug": slug}).first()
    return PublicSeries(*row) if row is not None else None  # type: ignore[arg-type]  # id is a key


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


def content_time(entries: Sequence[FeedEntry]) -> datetime | None:
    stamps = [entry.series.updated_at for entry in entries]
    stamps += [o.updated_at for entry in entries for o in entry.occurrences]
    return max(stamps).replace(microsecond=0) if stamps else None


@functools.cache
def renderer_fingerprint() -> str:
    """What the bytes of a feed depend on besides its data: the code that writes them (so that a
    new version of the service never answers 304 for bytes an older one wrote)."""
    digest = hashlib.sha256(icalendar.__version__.encode())
    for module in (ical, vtimezone, designation, sys.modules[__name__]):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def feed_stamp(connection: Connection, series_ids: Sequence[int], meta: FeedMeta) -> str:
    """A version of the feed, from two aggregate queries: it changes whenever the bytes could
    (a series or occurrence edited, added or removed, other text around them, a new renderer),
    so that a conditional GET is answered without loading or rendering anything."""
    ids = sorted(set(series_ids))
    figures: list[object] = []
    if ids:
        for table, column in ((Series, Series.id), (Occurrence, Occurrence.series_id)):
            # sequences only rise, with every change, even two within one second (timestamps
            # are to the second); the count moves when rows come or go
            count, sequences, latest = connection.execute(
                select(func.count(), func.sum(table.sequence), func.max(table.updated_at)).where(
                    col(column).in_(ids)
                )
            ).one()
            figures += [count, sequences, latest.isoformat() if latest else None]
    text = json.dumps(
        [renderer_fingerprint(), ids, figures, dataclasses.asdict(meta)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def known_validators(connection: Connection, key: str, stamp: str) -> FeedValidators | None:
    """The ETag and Last-Modified of the bytes last served for ``key``, if ``stamp`` still
    describes them (by any process: they are stored with the stamp)."""
    state = connection.execute(_STATE, {"key": key}).first()
    if state is None or state.stamp != stamp:
        return None
    return FeedValidators(state.etag, state.last_modified)


async def settle_feed(
    session: AsyncSession,
    *,
    key: str,
    body: bytes,
    stamp: str,
    changed: datetime | None,
    now: datetime,
) -> FeedDocument:
    """Give freshly rendered bytes their ETag and a ``Last-Modified`` that never decreases
    (``changed``: when their content last changed), stored with ``stamp``; commits."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    state = await session.get(FeedState, key)
    if state is not None and state.etag == etag:
        if state.stamp != stamp:
            state.stamp = stamp
            await _commit_quietly(session)
        return FeedDocument(etag=etag, last_modified=state.last_modified, body=body)
    candidate = changed or now.replace(microsecond=0)
    if state is not None and candidate <= state.last_modified:
        candidate = state.last_modified + timedelta(seconds=1)
    if state is None:
        session.add(FeedState(key=key, etag=etag, last_modified=candidate, stamp=stamp))
    else:
        state.etag, state.last_modified, state.stamp = etag, candidate, stamp
    if not await _commit_quietly(session):  # another process stored this feed first
        state = await session.get(FeedState, key)
        if state is not None and state.etag == etag:
            return FeedDocument(etag=etag, last_modified=state.last_modified, body=body)
    return FeedDocument(etag=etag, last_modified=candidate, body=body)


async def _commit_quietly(session: AsyncSession) -> bool:
    try:
        await session.commit()
        return True
    except IntegrityError:
        await session.rollback()
        return False


class FeedCache:
    """This process's rendered feeds, one per key, each valid while its stamp is; the least
    recently used go first once ``max_bytes`` is reached."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._documents: OrderedDict[str, tuple[str, FeedDocument]] = OrderedDict()

    def get(self, key: str, stamp: str) -> FeedDocument | None:
        found = self._documents.get(key)
        if found is None or found[0] != stamp:
            return None
        self._documents.move_to_end(key)
        return found[1]

    def put(self, key: str, stamp: str, document: FeedDocument) -> None:
        old = self._documents.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1].body)
        if len(document.body) > self._max_bytes:
            return
        self._documents[key] = (stamp, document)
        self._bytes += len(document.body)
        while self._bytes > self._max_bytes:
            _key, (_stamp, dropped) = self._documents.popitem(last=False)
            self._bytes -= len(dropped.body)
