"""A burst of claimed rows is recorded as sent a group at a time (one statement for all the rows
handed over in a window, at most one statement a window), and still every message goes once:
after a refusal in the middle of the burst, and after the worker is stopped dead in the middle
of it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import event
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import SETTLE_WINDOW, DeliveryWorker
from tests.factories import queue_messages
from tests.smtp import SmtpServer
from tracker.db import Database

SENDER = "webinars@cme.example.org"


def _worker(database: Database, smtp: SmtpServer, *, lease: float = 120) -> DeliveryWorker:
    return DeliveryWorker(
        database.session,
        SmtpTransport(smtp.url, timeout=10),
        sender=SENDER,
        rate_per_second=0,
        lease=timedelta(seconds=lease),
    )


async def _statuses(database: Database) -> Counter[str]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage.status).order_by(col(OutboxMessage.id)))
        return Counter(str(status) for status in rows.all())


async def _message_ids(database: Database, *, limit: int | None = None) -> set[str]:
    """The Message-IDs of the first ``limit`` queued messages (all of them by default)."""
    query = select(OutboxMessage.message_id).order_by(col(OutboxMessage.id)).limit(limit)
    async with database.session() as session:
        return set((await session.exec(query)).all())


async def test_a_refusal_in_the_middle_of_a_burst_leaves_every_other_message_sent_once(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue_messages(database, 30)
    first_seven = await _message_ids(database, limit=7)
    # the first seven accepted (by a scripted reply: not recorded), the eighth refused for good
    smtp_server.recorder.replies = ["250 OK"] * 7 + ["550 5.1.1 no such mailbox"]
    settles: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE outbox_message") and "sent_at" in statement:
            settles.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        handled = await _worker(database, smtp_server).run_once()
        again = await _worker(database, smtp_server).run_once()  # nothing is left to send
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)

    received = Counter(smtp_server.recorder.message_ids())
    assert (handled, again) == (30, 0)
    assert await _statuses(database) == {"sent": 29, "failed": 1}
    assert len(received) == 22 and set(received.values()) == {1}  # the other 22, once each
    assert not first_seven & set(received)  # and none of the first seven again
    assert 1 <= len(settles) <= 29  # one statement records every row sent meanwhile


async def test_sent_rows_are_recorded_at_most_one_statement_a_window(
    database: Database, smtp_server: SmtpServer
) -> None:
    """A server on the same machine takes a message in a few milliseconds: recording each one
    alone would cost more than sending it."""
    await queue_messages(database, 60)
    settles: list[float] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE outbox_message") and "sent_at" in statement:
            settles.append(time.monotonic())

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    began = time.monotonic()
    try:
        handled = await _worker(database, smtp_server).run_once()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    elapsed = time.monotonic() - began

    assert handled == 60
    assert await _statuses(database) == {"sent": 60}
    assert len(Counter(smtp_server.recorder.message_ids())) == 60
    # a statement a window at most, plus one for each claim of 20 (the worker records what it
    # handed over before it claims the next burst) and the last one on the way out
    assert 1 <= len(settles) <= elapsed / SETTLE_WINDOW + 60 / 20 + 1, (len(settles), elapsed)


async def test_a_worker_stopped_dead_mid_burst_repeats_at_most_the_message_in_hand(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue_messages(database, 12)
    expected = await _message_ids(database)
    smtp_server.recorder.delay = 0.05
    first = asyncio.create_task(_worker(database, smtp_server, lease=1).run_once())
    for _ in range(500):  # until five were handed over
        if len(smtp_server.recorder.messages) >= 5:
            break
        await asyncio.sleep(0.01)
    first.cancel()  # a shutdown in the middle of a burst: no stop(), no release of the rest
    await asyncio.gather(first, return_exceptions=True)
    reached = len(smtp_server.recorder.messages)
    recorded = (await _statuses(database))["sent"]
    await asyncio.sleep(2.1)  # the lease of the rows it held runs out (a clock of whole seconds)

    await _worker(database, smtp_server).run_once()

    received = Counter(smtp_server.recorder.message_ids())
    # what it had handed over was recorded on the way out: all that reached the server but the
    # message in hand, which the server may have taken before its answer reached the worker
    assert recorded >= reached - 1 >= 4
    assert set(received) == expected
    assert sum(received.values()) - len(received) <= 1
    assert await _statuses(database) == {"sent": 12}
