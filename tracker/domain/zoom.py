"""The Zoom account integration's rows (SPEC 8): registrants kept in step with registrations,
reconciliation runs planned and claimed, and what pages and emails read of them.

The database is the truth. Registrants are a difference computed from it: each registration to
a series with a Zoom webinar wants a registrant row, each row whose registration is gone wants a
cancel; a worker claims rows under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so that
several processes share the work and a killed one's claims run out. Reconciliation rounds are
rows too, one per (occurrence, round) by a unique key, claimed the same way. Everything here
flushes only; the services commit.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, exists, func, literal, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain import limits
from tracker.domain.models import (
    AttendanceEvent,
    Physician,
    Registration,
    ZoomReconciliation,
    ZoomRegistrant,
)

_REG: Table = ZoomRegistrant.__table__  # type: ignore[attr-defined]  # SQLModel's table
_RUN: Table = ZoomReconciliation.__table__  # type: ignore[attr-defined]
#: Rounds after an occurrence's end (SPEC 8: one hour, then a day, when Zoom's report is whole).
ROUNDS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
#: Occurrences that ended longer ago than this get no planned round (a first start of the
#: integration does not read a year of reports); an organiser may still ask for one.
LOOKBACK = timedelta(days=3)
#: Registrants claimed per round of the sync.
CLAIM = 300
MAX_BACKOFF = timedelta(hours=6)


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after ``attempts`` failures: 1, 2, 4… minutes, at most
    six hours."""
    return min(MAX_BACKOFF, timedelta(minutes=2 ** min(attempts - 1, 12)))


def clip(text: str) -> str:
    return text[: limits.ZOOM_ERROR]


# Registrants ---------------------------------------------------------------------------------


async def plan_registrants(session: AsyncSession, *, now: datetime) -> None:
    """Bring the registrant rows in line with the registrations: a row to add for each
    registration to a Zoom series that has none (or whose registrant was cancelled, or was
    registered to the series' former webinar), a cancel for each added registrant whose
    registration is gone; a row never added whose registration is gone is forgotten.

    Each change is looked for first with a read and written only when there is one: this runs
    every 30 s in every process, and with nothing to do it takes no write lock (SQLite has one
    writer; 42,000 registrations take about 0.2 s to compare, a lock that long would hold up
    the webhooks' commits)."""
    connection = await session.connection()
    registered = exists().where(
        col(Registration.series_id) == _REG.c.series_id,
        col(Registration.physician_id) == _REG.c.physician_id,
    )
    missing = (
        sa_select(
            col(Registration.series_id),
            col(Registration.physician_id),
            col(Series.zoom_webinar_id),
            literal("add"),
            literal(0),
            literal(now, type_=_REG.c.updated_at.type),
        )
        .join(Series, col(Series.id) == col(Registration.series_id))
        .where(
            col(Series.zoom_webinar_id).is_not(None),
            col(Series.zoom_webinar_id) != "",
            ~exists().where(
                _REG.c.series_id == col(Registration.series_id),
                _REG.c.physician_id == col(Registration.physician_id),
            ),
        )
    )
    if (await connection.execute(sa_select(missing.exists()))).scalar():
        await connection.execute(
            _insert(connection.dialect.name)(_REG)
            .from_select(
                ["series_id", "physician_id", "zoom_webinar_id", "state", "attempts", "updated_at"],
                missing,
            )
            .on_conflict_do_nothing(index_elements=["series_id", "physician_id"])
        )
    back = {"attempts": 0, "error": None, "next_attempt_at": None, "updated_at": now}
    free = or_(_REG.c.lease_until.is_(None), _REG.c.lease_until < now)
    # the physician's email or name is no longer what Zoom holds (Zoom updates no registrant)
    changed = exists().where(
        col(Physician.id) == _REG.c.physician_id,
        or_(
            col(Physician.email) != _REG.c.email,
            col(Physician.first_name) != _REG.c.first_name,
            col(Physician.last_name) != _REG.c.last_name,
        ),
    )
    current = (  # the series' webinar now: an organiser may have changed it
        sa_select(col(Series.zoom_webinar_id))
        .where(col(Series.id) == _REG.c.series_id)
        .scalar_subquery()
    )
    changes: list[tuple[tuple[Any, ...], dict[str, Any] | None]] = [
        # registered again before the cancel went out: still registered
        (
            (_REG.c.state == "cancel", _REG.c.registrant_id.is_not(None), registered),
            {"state": "added", **back},
        ),
        # registered again after a cancel: a new registrant
        ((_REG.c.state == "cancelled", registered), {"state": "add", **back}),
        ((_REG.c.state.in_(("added", "replace")), ~registered), {"state": "cancel", **back}),
        # a new email or name: cancel the registrant Zoom holds, then add the physician again
        (
            (_REG.c.state == "added", _REG.c.registrant_id.is_not(None), registered, changed),
            {"state": "replace", **back},
        ),
        # a registrant of the series' former webinar: register with the new one
        (
            (
                _REG.c.state.in_(("add", "added")),
                registered,
                current.is_not(None),
                current != "",
                _REG.c.zoom_webinar_id != current,
            ),
            {
                "state": "add",
                "zoom_webinar_id": current,
                "registrant_id": None,
                "join_url": None,
                **back,
            },
        ),
        # None: forget the row. Not one a worker holds: Zoom may be adding it right now (it
        # comes back as added, and is cancelled the next round).
        ((_REG.c.state == "add", ~registered, free), None),
        # a deleted physician's registrant, cancelled at Zoom: nothing more to keep
        ((_REG.c.state == "cancelled", _REG.c.physician_id.is_(None)), None),
    ]
    for where, values in changes:
        if (await connection.execute(sa_select(_REG.c.id).where(*where).limit(1))).first() is None:
            continue
        if values is None:
            await connection.execute(delete(_REG).where(*where))
        else:
            await connection.execute(update(_REG).where(*where).values(**values))


@dataclass(frozen=True)
class Work:
    """Claimed registrants of one webinar, all to add, all to cancel, or all to replace (to
    cancel, then to add again under the physician's new email or name). To add: the email and
    name to send, as the row now records them; to cancel or replace: the ones Zoom holds."""

    webinar_id: str
    action: str  # "add", "cancel" or "replace"
    rows: list[tuple[int, str, str, str, str | None]]  # id, email, first, last, registrant id


async def claim_registrants(
    session: AsyncSession, *, owner: str, now: datetime, lease: timedelta, limit: int = CLAIM
) -> list[Work]:
    """Claim up to ``limit`` registrants to add or cancel whose time has come, for ``owner``;
    the caller commits, then calls Zoom, then :func:`settle_registrants`."""
    free = or_(_REG.c.lease_until.is_(None), _REG.c.lease_until < now)
    due = or_(_REG.c.next_attempt_at.is_(None), _REG.c.next_attempt_at <= now)
    ids = (
        sa_select(_REG.c.id)
        .where(
            or_(
                _REG.c.state.in_(("cancel", "replace")),
                and_(_REG.c.state == "add", _REG.c.physician_id.is_not(None)),
            ),
            free,
            due,
        )
        .order_by(_REG.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    connection = await session.connection()
    claimed = [
        row[0]
        for row in await connection.execute(
            update(_REG)
            .where(_REG.c.id.in_(ids), free)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(_REG.c.id)
        )
    ]
    if not claimed:
        return []

    def now_of(column: Any) -> Any:
        return sa_select(column).where(col(Physician.id) == _REG.c.physician_id).scalar_subquery()

    # What is sent to Zoom is recorded as the physician is now: a change made while Zoom
    # answers is seen by the next round (a replace).
    await connection.execute(
        update(_REG)
        .where(_REG.c.id.in_(claimed), _REG.c.state == "add")
        .values(
            email=now_of(col(Physician.email)),
            first_name=now_of(col(Physician.first_name)),
            last_name=now_of(col(Physician.last_name)),
        )
    )
    rows = await connection.execute(
        sa_select(
            _REG.c.id,
            _REG.c.zoom_webinar_id,
            _REG.c.state,
            _REG.c.registrant_id,
            func.coalesce(_REG.c.email, col(Physician.email)),
            func.coalesce(_REG.c.first_name, col(Physician.first_name), ""),
            func.coalesce(_REG.c.last_name, col(Physician.last_name), ""),
        )
        .outerjoin(Physician, col(Physician.id) == _REG.c.physician_id)
        .where(_REG.c.id.in_(claimed))
        .order_by(_REG.c.id)
    )
    groups: dict[tuple[str, str], list[tuple[int, str, str, str, str | None]]] = {}
    for rid, webinar, state, registrant, email, first, last in rows:
        if email is None:  # a cancel of a row without an address: nothing Zoom could match
            email = ""
        groups.setdefault((webinar, state), []).append((rid, email, first, last, registrant))
    return [Work(w, a, items) for (w, a), items in groups.items()]


async def registrants_added(
    session: AsyncSession, done: Collection[tuple[int, str, str]], *, now: datetime
) -> None:
    """Zoom registered these (row id, registrant id, personal join URL)."""
    if not done:
        return
    connection = await session.connection()
    for row_id, registrant, join_url in done:
        await connection.execute(
            update(_REG)
            .where(_REG.c.id == row_id)
            .values(
                state="added",
                registrant_id=registrant[: limits.ZOOM_REGISTRANT_ID],
                join_url=join_url[: limits.JOIN_URL] or None,
                attempts=0,
                error=None,
                next_attempt_at=None,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )


async def registrants_cancelled(
    session: AsyncSession, ids: Collection[int], *, now: datetime
) -> None:
    if not ids:
        return
    connection = await session.connection()
    await connection.execute(
        update(_REG)
        .where(_REG.c.id.in_(list(ids)))
        .values(state="cancelled", error=None, lease_owner=None, lease_until=None, updated_at=now)
    )


async def registrants_replaced(
    session: AsyncSession, ids: Collection[int], *, now: datetime
) -> None:
    """Zoom cancelled these registrants of a physician whose email or name changed: each row
    is to add again (its personal link is gone with the registrant)."""
    if not ids:
        return
    connection = await session.connection()
    await connection.execute(
        update(_REG)
        .where(_REG.c.id.in_(list(ids)), _REG.c.state.in_(("replace", "added")))
        .values(
            state="add",
            registrant_id=None,
            join_url=None,
            email=None,
            first_name=None,
            last_name=None,
            attempts=0,
            error=None,
            next_attempt_at=None,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )
    # unregistered meanwhile (the planner made it a cancel): cancelled already
    await connection.execute(
        update(_REG)
        .where(_REG.c.id.in_(list(ids)), _REG.c.state == "cancel")
        .values(state="cancelled", lease_owner=None, lease_until=None, updated_at=now)
    )


async def registrants_failed(
    session: AsyncSession, ids: Collection[int], reason: str, *, now: datetime
) -> None:
    """An attempt failed: count it, say why, and wait before the next (the lease is given back)."""
    if not ids:
        return
    connection = await session.connection()
    current = await connection.execute(
        sa_select(_REG.c.id, _REG.c.attempts).where(_REG.c.id.in_(list(ids)))
    )
    for row_id, attempts in current.all():
        await connection.execute(
            update(_REG)
            .where(_REG.c.id == row_id)
            .values(
                attempts=attempts + 1,
                error=clip(reason),
                next_attempt_at=now + backoff(attempts + 1),
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )


#: A personal link that holds: added, and for the webinar the series names now.
_CURRENT_LINK = (
    _REG.c.state == "added",
    _REG.c.join_url.is_not(None),
    exists().where(
        col(Series.id) == _REG.c.series_id, col(Series.zoom_webinar_id) == _REG.c.zoom_webinar_id
    ),
)


async def personal_links(
    session: AsyncSession, series_id: int, physician_ids: Collection[int] | None = None
) -> dict[int, str]:
    """The personal join links Zoom gave these physicians (all of the series' by default)."""
    query = sa_select(_REG.c.physician_id, _REG.c.join_url).where(
        _REG.c.series_id == series_id, *_CURRENT_LINK
    )
    if physician_ids is not None and len(physician_ids) <= 1000:  # else all: no huge IN list
        query = query.where(_REG.c.physician_id.in_(list(physician_ids)))
    connection = await session.connection()
    return {pid: url for pid, url in await connection.execute(query)}


def links_of(connection: Connection, physician_id: int) -> dict[int, str]:
    """One physician's personal join links, by series (synchronous: a feed's freshness check
    makes one trip to the database, :meth:`tracker.db.Database.read`)."""
    query = sa_select(_REG.c.series_id, _REG.c.join_url).where(
        _REG.c.physician_id == physician_id, *_CURRENT_LINK
    )
    return {sid: url for sid, url in connection.execute(query)}


# Reconciliation ------------------------------------------------------------------------------


async def plan_rounds(session: AsyncSession, *, now: datetime) -> None:
    """A row for each round of each Zoom occurrence that ended within :data:`LOOKBACK` (not
    cancelled), once: ``INSERT ... ON CONFLICT DO NOTHING`` on (occurrence, round)."""
    connection = await session.connection()
    query = (
        sa_select(col(Occurrence.id), col(Occurrence.end))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .where(
            col(Series.zoom_webinar_id).is_not(None),
            col(Series.zoom_webinar_id) != "",
            col(Occurrence.status) != OccurrenceStatus.CANCELLED,
            col(Occurrence.end) > now - LOOKBACK,
            col(Occurrence.end) <= now - min(ROUNDS.values()),
        )
    )
    rows = [
        {"occurrence_id": oid, "round": name, "due_at": end + after, "status": "due"}
        for oid, end in await connection.execute(query)
        for name, after in ROUNDS.items()
    ]
    if rows:
        insert = _insert(connection.dialect.name)(_RUN).on_conflict_do_nothing(
            index_elements=["occurrence_id", "round"]
        )
        await connection.execute(insert, rows)


async def ask_round(session: AsyncSession, occurrence_id: int, *, now: datetime) -> int:
    """An organiser's (or the CLI's) run, due now; while one is waiting or running, asking
    again gives that one (a double click is one run)."""
    connection = await session.connection()
    waiting = await connection.execute(
        sa_select(_RUN.c.id).where(
            _RUN.c.occurrence_id == occurrence_id,
            _RUN.c.round.like("manual:%"),
            or_(
                _RUN.c.status == "due", and_(_RUN.c.status == "running", _RUN.c.lease_until >= now)
            ),
        )
    )
    found = waiting.scalars().first()
    if found is not None:
        return int(found)
    name = f"manual:{now:%Y-%m-%dT%H:%M:%S}:{secrets.token_hex(4)}"  # utcnow() is to the second
    insert = _insert(connection.dialect.name)(_RUN).on_conflict_do_nothing(
        index_elements=["occurrence_id", "round"]
    )
    await connection.execute(
        insert,
        [{"occurrence_id": occurrence_id, "round": name, "due_at": now, "status": "due"}],
    )
    made = await connection.execute(
        sa_select(_RUN.c.id).where(_RUN.c.occurrence_id == occurrence_id, _RUN.c.round == name)
    )
    return int(made.scalar_one())


async def claim_rounds(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    run_id: int | None = None,
    limit: int = 10,
) -> list[tuple[int, int]]:
    """Claim due runs (or the one ``run_id``) nobody holds: (run id, occurrence id) each."""
    free = or_(
        _RUN.c.status == "due",
        and_(_RUN.c.status == "running", _RUN.c.lease_until < now),
    )
    where = [free, _RUN.c.due_at <= now]
    if run_id is not None:
        where.append(_RUN.c.id == run_id)
    ids = (
        sa_select(_RUN.c.id)
        .where(*where)
        .order_by(_RUN.c.due_at, _RUN.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    connection = await session.connection()
    rows = await connection.execute(
        update(_RUN)
        .where(_RUN.c.id.in_(ids), free)
        .values(status="running", lease_owner=owner, lease_until=now + lease, started_at=now)
        .returning(_RUN.c.id, _RUN.c.occurrence_id)
    )
    return sorted((int(a), int(b)) for a, b in rows)


async def finish_round(
    session: AsyncSession,
    run_id: int,
    *,
    owner: str,
    now: datetime,
    reason: str | None,
    rows: int = 0,
    added: int = 0,
) -> bool:
    """Record how the run ended (``reason`` ``None``: ok); ``False`` if ``owner`` lost it."""
    connection = await session.connection()
    result = await connection.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.lease_owner == owner)
        .values(
            status="failed" if reason else "ok",
            reason=clip(reason) if reason else None,
            rows=rows,
            added=added,
            finished_at=now,
            lease_owner=None,
            lease_until=None,
        )
    )
    return bool(result.rowcount)


@dataclass(frozen=True)
class ZoomView:
    """What the organiser sees of an occurrence's Zoom side."""

    sources: dict[str, int]
    runs: list[ZoomReconciliation]

    @property
    def latest(self) -> ZoomReconciliation | None:
        """The run that ended last (its failure is what the organiser must see)."""
        ended = [r for r in self.runs if r.finished_at is not None]
        return max(ended, key=lambda r: (r.finished_at, r.id or 0)) if ended else None


async def zoom_view(session: AsyncSession, occurrence_id: int, *, runs: int = 10) -> ZoomView:
    """Facts of the occurrence counted by source, and its latest reconciliation runs."""
    counted = await session.exec(
        select(AttendanceEvent.source, func.count())
        .where(AttendanceEvent.occurrence_id == occurrence_id)
        .group_by(AttendanceEvent.source)
    )
    sources = Counter({str(source): int(n) for source, n in counted.all()})
    latest = await session.exec(
        select(ZoomReconciliation)
        .where(ZoomReconciliation.occurrence_id == occurrence_id)
        .order_by(col(ZoomReconciliation.due_at).desc(), col(ZoomReconciliation.id).desc())
        .limit(runs)
    )
    return ZoomView(dict(sorted(sources.items())), list(latest.all()))


def session_instances(
    instances: Sequence[tuple[str, datetime]],
    start: datetime,
    end: datetime,
    *,
    within: timedelta,
) -> list[str]:
    """The UUIDs of the instances that started within [start - within, end + within], in start
    order: a session is one instance, or several when the host ended the webinar and started
    it again (each instance has its own report)."""
    return [
        uuid
        for at, uuid in sorted((at, uuid) for uuid, at in instances)
        if start - within <= at <= end + within
    ]


def with_join_url(series: Series, url: str | None) -> Series:
    """The series as one physician sees it: their personal Zoom link instead of the shared one
    (a detached copy: the stored series is not touched)."""
    if not url or url == series.join_url:
        return series
    copy = Series(**series.model_dump())  # table models do not validate: a plain copy
    copy.join_url = url
    return copy


async def personal_series(
    session: AsyncSession, physician_id: int, pairs: Sequence[tuple[Occurrence, Series]]
) -> list[tuple[Occurrence, Series]]:
    """These sessions of one physician with their personal join links, where Zoom gave one."""
    if not pairs:
        return list(pairs)
    links = await session.run_sync(lambda sync: links_of(sync.connection(), physician_id))
    copies: dict[int, Series] = {}
    result: list[tuple[Occurrence, Series]] = []
    for occurrence, series in pairs:
        sid = series.id or 0
        if sid not in copies:
            copies[sid] = with_join_url(series, links.get(sid))
        result.append((occurrence, copies[sid]))
    return result
