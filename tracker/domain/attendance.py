"""Attendance facts: stored append-only and idempotently, matched as they are stored or later.

An event that names no known physician or occurrence is kept as *unmatched*; matching only
ever fills in ``physician_id`` / ``occurrence_id`` and never rewrites the fact itself.

Everything here works on batches (one statement for the facts, one query per kind of match,
whatever the number of events) and only flushes: the caller's service commits. Storing a fact
also marks the awards it changes as pending (``award_pending``, in the same transaction), so
the projection may run behind the answer and is never lost.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeVar, cast

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    delete,
    func,
    tuple_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain.models import AttendanceEvent, AwardPending, Physician, ZoomRegistrant
from tracker.domain.physicians import email_key

#: Zoom events match the occurrence whose [start - 60 min, end + 60 min] holds them.
MATCH_WINDOW = timedelta(minutes=60)
#: ``award_pending.physician_id`` of an occurrence whose every award is to recompute.
EVERY_ATTENDEE = 0
#: Values per ``IN`` list (well under both engines' limits on bound parameters; inserts are
#: paged by SQLAlchemy's "insertmanyvalues" within those limits).
CHUNK = 2000

_T = TypeVar("_T")
#: ``conflict``: the event's source and id are those of a stored fact that says something else
#: (another kind, time, person or session); the stored fact stands and the new one is not stored.
Status = Literal["accepted", "unmatched", "duplicate", "conflict"]
_EVENTS: Table = AttendanceEvent.__table__  # type: ignore[attr-defined]  # SQLModel's table
_PENDING: Table = AwardPending.__table__  # type: ignore[attr-defined]


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
    #: The Zoom registrant the event names (with ``zoom_webinar_id``): matched before the email.
    registrant_id: str | None = None


@dataclass
class Recorded:
    accepted: int = 0
    duplicates: int = 0
    unmatched: int = 0
    conflicts: int = 0
    pairs: set[tuple[int, int]] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)
    #: One status per event given, in order.
    statuses: list[Status] = field(default_factory=list)

    def note(self, event: AttendanceEvent | _Matchable) -> None:
        if is_unmatched(event):
            self.unmatched += 1
        elif event.kind == "ended" and event.occurrence_id is not None:
            self.ended.add(event.occurrence_id)
        elif event.occurrence_id is not None and event.physician_id is not None:
            self.pairs.add((event.occurrence_id, event.physician_id))


def is_unmatched(event: AttendanceEvent | _Matchable) -> bool:
    return event.occurrence_id is None or (event.kind != "ended" and event.physician_id is None)


@dataclass
class _Matchable:
    """What matching reads and fills in, for a new event or a stored one."""

    kind: str
    at: datetime
    email: str | None
    zoom_webinar_id: str | None
    series_id: int | None
    requested_occurrence_id: int | None
    requested_physician_id: int | None
    occurrence_id: int | None = None
    physician_id: int | None = None
    id: int | None = None
    registrant_id: str | None = None


class _Candidate(NamedTuple):
    id: int
    owner: int | str  # the series id or the Zoom webinar id it was found by
    start: datetime
    end: datetime
    cancelled: bool


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterable[Sequence[_T]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


@dataclass(frozen=True)
class _Lookups:
    """The matching queries of one dialect, built once: building and hashing a statement costs
    more than running it for a batch of a few dozen events (a storm's group commit)."""

    existing: dict[str, Any]
    by_email: Any
    by_registrant: Any
    candidates: dict[str, Any]


@functools.cache
def _lookups(postgresql_arrays: bool) -> _Lookups:
    """On PostgreSQL a list of keys is one array parameter (``= ANY(:keys)``): the statement's
    text is the same for any number of keys, so it is neither re-rendered nor prepared again
    for each batch size, as an expanding ``IN`` list is. SQLite has no arrays: ``IN``."""

    def among(column: Any, name: str, item: Any) -> Any:
        if postgresql_arrays:
            return column == any_(bindparam(name, type_=postgresql.ARRAY(item)))
        return column.in_(bindparam(name, expanding=True))

    near = (col(Occurrence.start) <= bindparam("hi")) & (col(Occurrence.end) >= bindparam("lo"))
    columns = (
        col(Occurrence.id),
        col(Occurrence.start),
        col(Occurrence.end),
        col(Occurrence.status),
    )
    return _Lookups(
        existing={
            "occurrence": sa_select(col(Occurrence.id)).where(
                among(col(Occurrence.id), "ids", Integer)
            ),
            "physician": sa_select(col(Physician.id)).where(
                among(col(Physician.id), "ids", Integer)
            ),
        },
        by_email=sa_select(col(Physician.email), col(Physician.id)).where(
            among(col(Physician.email), "keys", String)
        ),
        by_registrant=sa_select(
            col(ZoomRegistrant.zoom_webinar_id),
            col(ZoomRegistrant.registrant_id),
            col(ZoomRegistrant.physician_id),
        ).where(among(col(ZoomRegistrant.registrant_id), "keys", String)),
        candidates={
            "series": sa_select(col(Occurrence.series_id), *columns).where(
                near, among(col(Occurrence.series_id), "keys", Integer)
            ),
            "zoom": sa_select(col(Series.zoom_webinar_id), *columns)
            .join(Series, col(Series.id) == col(Occurrence.series_id))
            .where(near, among(col(Series.zoom_webinar_id), "keys", String)),
        },
    )


def _sql(connection: Connection) -> _Lookups:
    return _lookups(connection.dialect.name == "postgresql")


def _existing(
    connection: Connection, table: Literal["occurrence", "physician"], ids: set[int]
) -> set[int]:
    found: set[int] = set()
    if not ids:
        return found
    for chunk in _chunks(sorted(ids)):
        result = connection.execute(_sql(connection).existing[table], {"ids": chunk})
        found.update(i for i in result.scalars() if i is not None)
    return found


def _candidates(
    connection: Connection,
    by: Literal["series", "zoom"],
    keys: set[Any],
    lo: datetime,
    hi: datetime,
) -> dict[Any, list[_Candidate]]:
    """Occurrences of these series (or Zoom webinars) whose match window meets [lo, hi]."""
    found: dict[Any, list[_Candidate]] = defaultdict(list)
    window = {"hi": hi + MATCH_WINDOW, "lo": lo - MATCH_WINDOW}
    for chunk in _chunks(sorted(keys)):
        rows = connection.execute(_sql(connection).candidates[by], window | {"keys": chunk})
        for row in rows:
            key, oid, start, end, status = cast(tuple[int | str, int, datetime, datetime, str], row)
            found[key].append(
                _Candidate(oid, key, start, end, status == OccurrenceStatus.CANCELLED)
            )
    return found


async def match_all(session: AsyncSession, events: Sequence[_Matchable]) -> None:
    """Fill in what can be matched now of these events (:func:`match_rows`)."""
    await session.run_sync(lambda sync: match_rows(sync.connection(), events))


def match_rows(connection: Connection, events: Sequence[_Matchable]) -> None:
    """Fill in what can be matched now, for every event at once: a handful of queries whatever
    their number. An occurrence is the one named, else the one of the series (or Zoom webinar)
    whose window holds the event, preferring a session not cancelled, then the nearest start;
    a physician the one named if they exist, else the one with the event's address."""
    wanted = [e for e in events if e.occurrence_id is None]
    named = _existing(
        connection,
        "occurrence",
        {e.requested_occurrence_id for e in wanted if e.requested_occurrence_id is not None},
    )
    by_series = [e for e in wanted if e.requested_occurrence_id is None and e.series_id is not None]
    by_zoom = [
        e
        for e in wanted
        if e.requested_occurrence_id is None and e.series_id is None and e.zoom_webinar_id
    ]
    found: dict[tuple[str, Any], list[_Candidate]] = {}
    for by, group in (("series", by_series), ("zoom", by_zoom)):
        if group:
            keys = {e.series_id if by == "series" else e.zoom_webinar_id for e in group}
            lo, hi = min(e.at for e in group), max(e.at for e in group)
            kind: Literal["series", "zoom"] = "series" if by == "series" else "zoom"
            for key, rows in _candidates(connection, kind, keys, lo, hi).items():
                found[(by, key)] = rows
    for event in wanted:
        if event.requested_occurrence_id is not None:
            if event.requested_occurrence_id in named:
                event.occurrence_id = event.requested_occurrence_id
            continue
        if event.series_id is not None:
            rows = found.get(("series", event.series_id), [])
        elif event.zoom_webinar_id:
            rows = found.get(("zoom", event.zoom_webinar_id), [])
        else:
            continue
        at = event.at
        near = [o for o in rows if o.start <= at + MATCH_WINDOW and o.end >= at - MATCH_WINDOW]
        if near:
            event.occurrence_id = min(
                near, key=lambda o: (o.cancelled, abs((o.start - at).total_seconds()), o.id)
            ).id
    who = [e for e in events if e.physician_id is None and e.kind != "ended"]
    known = _existing(
        connection,
        "physician",
        {e.requested_physician_id for e in who if e.requested_physician_id is not None},
    )
    emails: dict[str, int] = {}
    addresses = sorted({e.email for e in who if e.email})
    for chunk in _chunks(addresses):
        result = connection.execute(_sql(connection).by_email, {"keys": chunk})
        emails.update((email, pid) for email, pid in result if pid is not None)
    registrants: dict[tuple[str, str], int] = {}
    named_registrants = sorted({e.registrant_id for e in who if e.registrant_id})
    for chunk in _chunks(named_registrants):
        result = connection.execute(_sql(connection).by_registrant, {"keys": chunk})
        named_rows = cast(Iterable[tuple[str, str, int]], result)
        registrants.update(((webinar, rid), pid) for webinar, rid, pid in named_rows)
    for event in who:
        registrant = registrants.get((event.zoom_webinar_id or "", event.registrant_id or ""))
        if event.requested_physician_id in known:
            event.physician_id = event.requested_physician_id
        elif registrant is not None:  # Zoom's own word for who joined (SPEC 8): before the email
            event.physician_id = registrant
        elif event.email:
            event.physician_id = emails.get(event.email)


async def match(session: AsyncSession, event: AttendanceEvent) -> None:
    """Fill in what can be matched now of one stored event (the caller flushes or commits)."""
    item = _stored(event)
    await match_all(session, [item])
    event.occurrence_id, event.physician_id = item.occurrence_id, item.physician_id


def _stored(event: AttendanceEvent) -> _Matchable:
    return _Matchable(
        kind=event.kind,
        at=event.at,
        email=event.email,
        zoom_webinar_id=event.zoom_webinar_id,
        series_id=event.series_id,
        requested_occurrence_id=event.requested_occurrence_id,
        requested_physician_id=event.requested_physician_id,
        occurrence_id=event.occurrence_id,
        physician_id=event.physician_id,
        id=event.id,
        registrant_id=event.registrant_id,
    )


#: An address of plain ASCII letters, digits and ``._%+-`` around one ``@``: its key is the
#: address trimmed and lower-cased whether email-validator accepts it or not (see
#: :func:`~tracker.domain.physicians.email_key`), so the validator (~100 us) is skipped.
#: Not a domain in its IDNA form (``xn--``): its key is the Unicode form the physician's is
#: stored in (``zoe@xn--exmple-cua.org`` is ``zoe@exämple.org``), which only the validator gives.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


@functools.lru_cache(maxsize=65_536)
def _email_key(text: str) -> str:
    trimmed = text.strip()
    if (
        len(trimmed) <= 254
        and _PLAIN_ADDRESS.fullmatch(trimmed)
        and "xn--" not in trimmed.lower().rpartition("@")[2]
    ):
        return trimmed.lower()
    return email_key(text)


def _email(event: NewEvent) -> str | None:
    return _email_key(event.email) if event.email else None


#: The pending awards' upsert on PostgreSQL (a new fact raises the generation), straight to the
#: driver as the events' insert is (:func:`_postgresql_event_insert`).
_PG_PENDING = (
    f"INSERT INTO {_PENDING.name} (occurrence_id, physician_id, generation) "
    "SELECT occurrence, physician, 1 FROM unnest($1::integer[], $2::integer[]) AS new (occurrence, physician) "
    f"ON CONFLICT (occurrence_id, physician_id) DO UPDATE SET generation = {_PENDING.name}.generation + 1"
)


#: The columns :func:`store_rows` writes, in the order of its rows.
_EVENT_COLUMNS = (
    "source",
    "external_id",
    "kind",
    "at",
    "email",
    "connection_id",
    "zoom_webinar_id",
    "series_id",
    "occurrence_id",
    "physician_id",
    "requested_occurrence_id",
    "requested_physician_id",
    "registrant_id",
    "payload",
    "received_at",
)


def _bind_processors(dialect: Dialect) -> tuple[tuple[int, Any], ...]:
    """SQLAlchemy's own bind processor of each column that has one (times, JSON), by position,
    so that a row written straight to the driver is stored exactly as everywhere else."""
    processors = (
        (i, _EVENTS.c[n].type.bind_processor(dialect)) for i, n in enumerate(_EVENT_COLUMNS)
    )
    return tuple((i, p) for i, p in processors if p is not None)


@functools.cache
def _sqlite_event_insert(dialect: Dialect) -> tuple[str, tuple[tuple[int, Any], ...]]:
    """The events' insert as the SQLite driver takes it, and the columns' bind processors."""
    marks = ", ".join("?" * len(_EVENT_COLUMNS))
    sql = (
        f"INSERT INTO {_EVENTS.name} ({', '.join(_EVENT_COLUMNS)}) VALUES ({marks}) "
        "ON CONFLICT (source, external_id) DO NOTHING"
    )
    return sql, _bind_processors(dialect)


def _insert_events(connection: Connection, rows: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Insert the rows (duplicates skipped); the (source, external id) of those inserted.

    On SQLite each row goes straight to the driver's cursor (its statement prepared once), and
    the row count says whether it was inserted: SQLAlchemy's multi-row ``INSERT ... RETURNING``
    spent more time building its statement and binding parameters than SQLite spent storing
    them, under a join storm (bench/RESULTS.md). On PostgreSQL, one statement of one array per
    column (:func:`_postgresql_event_insert`)."""
    if connection.dialect.name == "postgresql":
        return _insert_events_postgresql(connection, rows)
    sql, processors = _sqlite_event_insert(connection.dialect)
    inserted: set[tuple[str, str]] = set()
    cursor = connection.connection.cursor()
    try:
        for row in rows:
            values = list(row)
            for index, process in processors:
                values[index] = process(values[index])
            cursor.execute(sql, values)
            if cursor.rowcount == 1:
                inserted.add((row[0], row[1]))
    finally:
        cursor.close()
    return inserted


@functools.cache
def _postgresql_event_insert(dialect: Dialect) -> tuple[str, tuple[tuple[int, Any], ...]]:
    """The events' insert as one statement of one array per column (``unnest``): its text is
    the same whatever the number of rows, so the driver prepares it once, and binds each
    array in one go."""
    arrays = ", ".join(
        f"${n}::{_EVENTS.c[name].type.compile(dialect=dialect)}[]"
        for n, name in enumerate(_EVENT_COLUMNS, 1)
    )
    sql = (
        f"INSERT INTO {_EVENTS.name} ({', '.join(_EVENT_COLUMNS)}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (source, external_id) DO NOTHING RETURNING source, external_id"
    )
    return sql, _bind_processors(dialect)


def _insert_events_postgresql(
    connection: Connection, rows: list[tuple[Any, ...]]
) -> set[tuple[str, str]]:
    sql, processors = _postgresql_event_insert(connection.dialect)
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index, process in processors:
        columns[index] = [process(value) for value in columns[index]]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, columns)
        return {(source, external_id) for source, external_id in cursor.fetchall()}
    finally:
        cursor.close()


def store_rows(connection: Connection, events: Sequence[NewEvent], *, now: datetime) -> Recorded:
    """Store new facts, matched, and mark the awards they change as pending, in the
    connection's transaction (the caller commits). Synchronous, so that a SQLite writer runs
    the whole transaction in one trip to its thread (:meth:`tracker.db.Database.write`).

    The same source and external id twice (in this batch, or already stored, or stored by
    another process at the same moment) is stored once: ``INSERT ... ON CONFLICT DO NOTHING``
    on the unique key, and what the database did not insert is a duplicate.
    """
    result = Recorded(statuses=["duplicate"] * len(events))
    first: dict[tuple[str, str], int] = {}
    for index, new in enumerate(events):
        first.setdefault((new.source, new.external_id), index)
    fresh = sorted(first.items())  # one order for every process: no deadlock between them
    matchables = [
        _Matchable(
            kind=events[i].kind,
            at=events[i].at,
            email=_email(events[i]),
            zoom_webinar_id=events[i].zoom_webinar_id,
            series_id=events[i].series_id,
            requested_occurrence_id=events[i].requested_occurrence_id,
            requested_physician_id=events[i].requested_physician_id,
            registrant_id=events[i].registrant_id,
        )
        for _, i in fresh
    ]
    match_rows(connection, matchables)
    rows = [
        (
            events[i].source,
            events[i].external_id,
            m.kind,
            m.at,
            m.email,
            events[i].connection_id,
            m.zoom_webinar_id,
            m.series_id,
            m.occurrence_id,
            m.physician_id,
            m.requested_occurrence_id,
            m.requested_physician_id,
            m.registrant_id,
            events[i].payload,
            now,
        )
        for (_, i), m in zip(fresh, matchables, strict=True)
    ]
    inserted = _insert_events(connection, rows)
    for (key, index), matched in zip(fresh, matchables, strict=True):
        if key not in inserted:
            continue
        result.accepted += 1
        result.note(matched)
        result.statuses[index] = "unmatched" if is_unmatched(matched) else "accepted"
    for index in _conflicting(connection, events, first, inserted):
        result.statuses[index] = "conflict"
    result.conflicts = result.statuses.count("conflict")
    result.duplicates = result.statuses.count("duplicate")
    pending_rows(connection, result.pairs, result.ended)
    return result


#: What an event says (its stored columns, each a field of :class:`NewEvent` of the same name):
#: two events with one id and these values are one event.
_FACT_COLUMNS = (
    "kind",
    "at",
    "email",
    "connection_id",
    "zoom_webinar_id",
    "series_id",
    "requested_occurrence_id",
    "requested_physician_id",
    "registrant_id",
)


def _fact(event: NewEvent) -> tuple[Any, ...]:
    """The :data:`_FACT_COLUMNS` of an event as they are stored (its address as its key)."""
    return tuple(
        _email(event) if name == "email" else getattr(event, name) for name in _FACT_COLUMNS
    )


def _conflicting(
    connection: Connection,
    events: Sequence[NewEvent],
    first: dict[tuple[str, str], int],
    inserted: set[tuple[str, str]],
) -> list[int]:
    """The positions of the events not stored whose id names another fact: a stored one, or
    an earlier one of this batch. Only the events not stored are read back, so a storm of new
    events costs nothing more."""
    repeated = [
        (i, (e.source, e.external_id))
        for i, e in enumerate(events)
        if (e.source, e.external_id) not in inserted or first[(e.source, e.external_id)] != i
    ]
    if not repeated:
        return []
    stored: dict[tuple[str, str], tuple[Any, ...]] = {}
    earlier = sorted({key for _, key in repeated if key not in inserted})
    columns = [_EVENTS.c[name] for name in _FACT_COLUMNS]
    for chunk in _chunks(earlier, CHUNK // 2):
        query = sa_select(_EVENTS.c.source, _EVENTS.c.external_id, *columns).where(
            tuple_(_EVENTS.c.source, _EVENTS.c.external_id).in_(chunk)
        )
        for row in connection.execute(query):
            stored[(row[0], row[1])] = tuple(row[2:])
    conflicts = []
    for index, key in repeated:
        fact = stored.get(key) if key not in inserted else _fact(events[first[key]])
        if fact is not None and fact != _fact(events[index]):
            conflicts.append(index)
    return conflicts


async def mark_pending(
    session: AsyncSession, pairs: Collection[tuple[int, int]], ended: Collection[int] = ()
) -> None:
    """These awards are to recompute (:func:`pending_rows`), in the session's transaction."""
    await session.run_sync(lambda sync: pending_rows(sync.connection(), pairs, ended))


_SQLITE_PENDING = (
    f"INSERT INTO {_PENDING.name} (occurrence_id, physician_id, generation) VALUES (?, ?, 1) "
    f"ON CONFLICT (occurrence_id, physician_id) DO UPDATE SET generation = {_PENDING.name}.generation + 1"
)


def pending_rows(
    connection: Connection, pairs: Collection[tuple[int, int]], ended: Collection[int] = ()
) -> None:
    """These awards (``ended``: every award of these occurrences) are to recompute; in the
    caller's transaction, so that they are pending exactly when the facts are stored."""
    keys = sorted(set(pairs) | {(occurrence, EVERY_ATTENDEE) for occurrence in ended})
    if not keys:
        return
    if connection.dialect.name == "sqlite":  # straight to the driver, as _insert_events
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(_SQLITE_PENDING, keys)
        finally:
            cursor.close()
        return
    occurrences, physicians = zip(*keys, strict=True)
    cursor = connection.connection.cursor()
    try:  # one statement of two arrays, its text the same for any number of keys
        cursor.execute(_PG_PENDING, [list(occurrences), list(physicians)])
    finally:
        cursor.close()


async def match_pending(session: AsyncSession) -> Recorded:
    """Try every unmatched event again (after a physician, series or occurrence appeared) and
    mark the awards of those matched now as pending; flushes only."""
    result = Recorded()
    stored = [_stored(event) for event in await unmatched_events(session, limit=100_000)]
    before = {item.id: (item.occurrence_id, item.physician_id) for item in stored}
    await match_all(session, stored)
    changed = [
        {"id": item.id, "occurrence_id": item.occurrence_id, "physician_id": item.physician_id}
        for item in stored
        if before[item.id] != (item.occurrence_id, item.physician_id)
    ]
    for chunk in _chunks(changed):
        await session.exec(update(AttendanceEvent), params=list(chunk))
    for item in stored:
        if not is_unmatched(item):
            result.note(item)
    await mark_pending(session, result.pairs, result.ended)
    return result


# Pending awards -------------------------------------------------------------------------------


class Claimed(NamedTuple):
    occurrence_id: int
    physician_id: int
    generation: int


def _pending_filter(occurrence_id: int | None, physician_id: int | None) -> list[Any]:
    where: list[Any] = []
    if occurrence_id is not None:
        where.append(_PENDING.c.occurrence_id == occurrence_id)
    if physician_id is not None:
        where.append(_PENDING.c.physician_id == physician_id)
    return where


async def claim_pending(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    occurrence_id: int | None = None,
    physician_id: int | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` pending awards nobody holds (or whose holder's lease ran out) for
    ``owner``; the caller commits. Rows another transaction is claiming are skipped
    (PostgreSQL's ``FOR UPDATE SKIP LOCKED``; SQLite has one writer at a time anyway)."""
    free = or_(_PENDING.c.lease_until.is_(None), _PENDING.c.lease_until < now)
    keys = (
        sa_select(_PENDING.c.occurrence_id, _PENDING.c.physician_id)
        .where(free, *_pending_filter(occurrence_id, physician_id))
        .order_by(_PENDING.c.occurrence_id, _PENDING.c.physician_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(_PENDING)
        .where(tuple_(_PENDING.c.occurrence_id, _PENDING.c.physician_id).in_(keys), free)
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(_PENDING.c.occurrence_id, _PENDING.c.physician_id, _PENDING.c.generation)
    )
    connection = await session.connection()
    return sorted(Claimed(*row) for row in await connection.execute(statement))


async def finish_pending(session: AsyncSession, claimed: Sequence[Claimed], *, owner: str) -> None:
    """The claimed awards are recomputed: forget each whose generation is unchanged, give the
    others (a fact came in meanwhile) back for the next round; the caller commits."""
    connection = await session.connection()
    done = (
        delete(_PENDING)
        .where(
            _PENDING.c.occurrence_id == bindparam("o"),
            _PENDING.c.physician_id == bindparam("p"),
            _PENDING.c.generation == bindparam("g"),
        )
        .execution_options(synchronize_session=False)
    )
    params = [{"o": c.occurrence_id, "p": c.physician_id, "g": c.generation} for c in claimed]
    for chunk in _chunks(params):
        await connection.execute(done, list(chunk))
    await release_pending(session, owner=owner)


async def release_pending(session: AsyncSession, *, owner: str) -> None:
    """Give back what ``owner`` still holds; the caller commits."""
    connection = await session.connection()
    await connection.execute(
        update(_PENDING)
        .where(_PENDING.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


async def pending_count(
    session: AsyncSession, *, occurrence_id: int | None = None, physician_id: int | None = None
) -> int:
    query = sa_select(func.count()).select_from(_PENDING)
    query = query.where(*_pending_filter(occurrence_id, physician_id))
    connection = await session.connection()
    return int((await connection.execute(query)).scalar_one())


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


#: Why an event is unmatched, in English (the API's ``reason``); pages word the same codes in
#: their own language (``unmatched.<code>`` in the pages' strings), with the same fields.
REASONS = {
    "occurrence": "occurrence {occurrence} does not exist",
    "webinar": "no occurrence of Zoom webinar {webinar} around {at}",
    "series": "no occurrence of the series around {at}",
    "physician": "physician {physician} does not exist",
    "no_email": "no email address{named} to match a physician by",
    "email": "no physician with email {email}",
}


def unmatched_reasons(event: AttendanceEvent) -> list[tuple[str, dict[str, Any]]]:
    """Why this event is unmatched: codes of :data:`REASONS` with their fields."""
    reasons: list[tuple[str, dict[str, Any]]] = []
    if event.occurrence_id is None:
        if event.requested_occurrence_id is not None:
            reasons.append(("occurrence", {"occurrence": event.requested_occurrence_id}))
        elif event.zoom_webinar_id and event.series_id is None:
            reasons.append(("webinar", {"webinar": event.zoom_webinar_id, "at": event.at}))
        else:
            reasons.append(("series", {"at": event.at}))
    if event.kind != "ended" and event.physician_id is None:
        if event.requested_physician_id is not None and not event.email:
            reasons.append(("physician", {"physician": event.requested_physician_id}))
        elif not event.email:
            name = shown_name(event.payload)
            reasons.append(("no_email", {"named": f" ({name})" if name else ""}))
        else:
            reasons.append(("email", {"email": event.email}))
    return reasons


def shown_name(payload: Any) -> str | None:
    """The name the platform showed for the event's participant, if it gave one: ``name`` in a
    report's or Zoom API's row, ``payload.object.participant.user_name`` in a Zoom webhook.
    Printable and at most :data:`SHOWN_NAME` characters (a report is anyone's file)."""
    if not isinstance(payload, dict):
        return None
    name = payload.get("name")
    if name is None:
        body = payload.get("payload")
        obj = body.get("object") if isinstance(body, dict) else None
        who = obj.get("participant") if isinstance(obj, dict) else None
        name = who.get("user_name") if isinstance(who, dict) else None
    if not isinstance(name, str):
        return None
    name = " ".join(name.split())
    if not name or not name.isprintable():
        return None
    return name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"


#: The longest participant name shown as it is.
SHOWN_NAME = 80


def unmatched_reason(event: AttendanceEvent) -> str:
    """:func:`unmatched_reasons` in English, one sentence."""
    return "; ".join(
        REASONS[code].format(
            **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
        )
        for code, fields in unmatched_reasons(event)
    )


async def occurrences_with_attendance(session: AsyncSession, occurrence_ids: list[int]) -> set[int]:
    """Which of these occurrences hold attendance events (a series edit must not remove them)."""
    query = select(AttendanceEvent.occurrence_id).where(
        col(AttendanceEvent.occurrence_id).in_(occurrence_ids)
    )
    return {oid for oid in (await session.exec(query)).all() if oid is not None}
