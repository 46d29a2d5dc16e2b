"""Monthly statements: one commit per physician, so a long run's progress is durable and a
second run (the job in another process, or the CLI) queues only what is missing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tracker.db import Database
from tracker.domain.mailings import MailSettings, enqueue_statement, physicians_with_activity


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
    (queued now, physicians with activity). ``progress(done, total)`` follows each physician."""
    async with database.session() as session:
        physician_ids = await physicians_with_activity(session, period)
    queued = 0
    for done, physician_id in enumerate(physician_ids, start=1):
        async with database.session() as session:
            queued += await enqueue_statement(session, mail, physician_id, period, now=now)
            await session.commit()
        progress(done, len(physician_ids))
    return queued, len(physician_ids)
