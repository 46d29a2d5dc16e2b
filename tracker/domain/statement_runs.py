"""Which process composes which monthly statement: one row per (month, physician), planned by
every process (``INSERT ... ON CONFLICT DO NOTHING`` on the unique key) and claimed under a
lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), as finalisation and Zoom reconciliation are.
So with ``tracker serve --workers N`` each statement's PDF is composed once, and the rows a
killed process held are taken over when its lease runs out. Everything here flushes only; the
services commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import StatementRun

_RUN: Table = StatementRun.__table__  # type: ignore[attr-defined]  # SQLModel's table
DUE, RUNNING, DONE = "due", "running", "done"


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def plan(session: AsyncSession, period: str, physician_ids: Collection[int]) -> int:
    """A row for each of these physicians' statement of ``period`` that has none; returns how
    many were new. Looks first, writes only what is missing (SQLite has one writer)."""
    connection = await session.connection()
    planned = set(
        (
            await connection.execute(sa_select(_RUN.c.physician_id).where(_RUN.c.period == period))
        ).scalars()
    )
    missing = sorted(set(physician_ids) - planned)
    if missing:
        await connection.execute(
            _insert(connection.dialect.name)(_RUN).on_conflict_do_nothing(
                index_elements=["period", "physician_id"]
            ),
            [{"period": period, "physician_id": pid, "status": DUE} for pid in missing],
        )
    return len(missing)


def _free(now: datetime) -> Any:
    """Nobody composes it: due, or running under a lease that ran out."""
    return or_(_RUN.c.status == DUE, and_(_RUN.c.status == RUNNING, _RUN.c.lease_until < now))


async def anything_left(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a statement waits for a process (a read: the resuming job's cheap check)."""
    connection = await session.connection()
    found = await connection.execute(sa_select(_RUN.c.id).where(_free(now)).limit(1))
    return found.first() is not None


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    period: str | None = None,
    limit: int = 10,
) -> list[tuple[int, str, int]]:
    """Claim up to ``limit`` statements nobody composes (of ``period``, or of any month) for
    ``owner``: (row id, period, physician id) each, in physician order."""
    where = [_free(now)]
    if period is not None:
        where.append(_RUN.c.period == period)
    ids = (
        sa_select(_RUN.c.id)
        .where(*where)
        .order_by(_RUN.c.period, _RUN.c.physician_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    connection = await session.connection()
    rows = await connection.execute(
        update(_RUN)
        .where(_RUN.c.id.in_(ids), _free(now))
        .values(status=RUNNING, lease_owner=owner, lease_until=now + lease)
        .returning(_RUN.c.id, _RUN.c.period, _RUN.c.physician_id)
    )
    return sorted(((int(i), str(p), int(pid)) for i, p, pid in rows), key=lambda r: (r[1], r[2]))


async def finish(session: AsyncSession, run_id: int, *, owner: str, now: datetime) -> bool:
    """The statement is in the outbox (queued, or recorded as unsendable); ``False`` if
    ``owner`` lost the row meanwhile (its lease ran out and another process took it)."""
    connection = await session.connection()
    result = await connection.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.lease_owner == owner)
        .values(status=DONE, lease_owner=None, lease_until=None, finished_at=now)
    )
    return bool(result.rowcount)
