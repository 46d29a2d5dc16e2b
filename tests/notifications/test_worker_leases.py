"""Two delivery workers (as in two service processes) on one outbox, with a server slow enough
that a worker reaches the end of its claimed rows only after their lease ran out: the other
worker claims those rows meanwhile, and each message is still sent once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import queue_messages
from tests.smtp import SmtpServer
from tracker.db import Database


async def _queue(database: Database, count: int) -> list[str]:
    """``count`` messages due now (:func:`tests.factories.queue_messages`); their Message-IDs."""
    await queue_messages(database, count)
    async with database.session() as session:
        return list((await session.exec(select(OutboxMessage.message_id))).all())


def _worker(database: Database, smtp: SmtpServer) -> DeliveryWorker:
    return DeliveryWorker(
        database.session,
        SmtpTransport(smtp.url, timeout=10),
        sender="webinars@cme.example.org",
        rate_per_second=0,
        lease=timedelta(seconds=1),  # a claim of 20 rows at 0.1 s each outlives it
    )


async def test_rows_a_worker_reaches_after_its_lease_ran_out_are_sent_once(
    database: Database, smtp_server: SmtpServer
) -> None:
    expected = await _queue(database, 40)
    smtp_server.recorder.delay = 0.1
    first, second = _worker(database, smtp_server), _worker(database, smtp_server)

    async def later() -> int:  # claims the next 20, then what the first could not reach
        await asyncio.sleep(0.3)
        return await second.run_once()

    handled = await asyncio.gather(first.run_once(), later())

    received = Counter(smtp_server.recorder.message_ids())
    async with database.session() as session:
        statuses = Counter(
            (await session.exec(select(OutboxMessage.status).order_by(col(OutboxMessage.id)))).all()
        )
    assert set(received) == set(expected)
    assert set(received.values()) == {1}, [m for m, n in received.items() if n > 1]
    assert statuses == {"sent": 40}
    assert sum(handled) == 40 and min(handled) > 0  # both took part
