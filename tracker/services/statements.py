"""Monthly statements: one commit per physician, so a long run's progress is durable; each
statement is claimed first (:mod:`tracker.domain.statement_runs`), so that with several
processes (``tracker serve --workers N``, the CLI beside the service) one of them composes it,
and what a killed process held is taken over once its lease runs out
(:func:`resume_statements`). The outbox key stays the last guard: an email is queued once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain import statement_runs as runs
from tracker.domain.mailings import MailSettings, enqueue_statement, physicians_with_activity

#: How long a claim on a batch of statements lasts (a batch takes about a second to compose).
LEASE = timedelta(minutes=5)
#: Statements claimed at a time: small, so that several processes share a month.
BATCH = 10


def _quiet(_done: int, _total: int) -> None:
    """No progress to show."""


async def send_statements(
    database: Database,
    mail: MailSettings,
    period: str,
    *,
    now: datetime,
    progress: Callable[[int, int], None] = _quiet,
) -> tuple[int, int]:
    """The statement of ``period`` to every physician with final credits in it; returns
    (queued now by this process, physicians with activity). ``progress(done, total)`` follows
    each statement this process composes."""
    async with database.session() as session:
        physician_ids = await physicians_with_activity(session, period)
        await runs.plan(session, period, physician_ids)
        await session.commit()
    queued, _ = await _compose_claimed(
        database, mail, period=period, now=now, progress=progress, total=len(physician_ids)
    )
    return queued, len(physician_ids)


async def resume_statements(database: Database, mail: MailSettings) -> int:
    """Compose the statements left behind by a process that died (its lease ran out), of any
    month; returns how many were queued. With nothing left, one read and no write."""
    async with database.session() as session:
        if not await runs.anything_left(session, now=utcnow()):
            return 0
    queued, _ = await _compose_claimed(database, mail, period=None, now=None)
    return queued


async def _compose_claimed(
    database: Database,
    mail: MailSettings,
    *,
    period: str | None,
    now: datetime | None,
    progress: Callable[[int, int], None] = _quiet,
    total: int = 0,
) -> tuple[int, int]:
    """Claim statements a batch at a time and compose each in its own transaction, with the
    row marked done in it: (queued, composed)."""
    owner = uuid.uuid4().hex
    queued = composed = 0
    while True:
        async with database.session() as session:
            claimed = await runs.claim(
                session, owner=owner, now=utcnow(), lease=LEASE, period=period, limit=BATCH
            )
            await session.commit()
        if not claimed:
            return queued, composed
        for run_id, month, physician_id in claimed:
            async with database.session() as session:
                queued += await enqueue_statement(
                    session, mail, physician_id, month, now=now or utcnow()
                )
                await runs.finish(session, run_id, owner=owner, now=utcnow())
                await session.commit()
            composed += 1
            progress(composed, total)
