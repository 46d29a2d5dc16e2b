"""Faults: the SMTP server down for an hour, then back (issue 8, hardening suite).

Simulated time (time-machine) moves minute by minute; "down" is a refused connection on the
port where the real SMTP server (aiosmtpd) later comes back. The queue must catch up, nothing
may be sent twice, and nothing may be given up on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from datetime import UTC, datetime, timedelta

import time_machine
from sqlmodel import col, select

from notifications.compose import Rendered, build_message
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.smtp import SmtpServer, free_port, run_server
from tracker.db import Database

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def _queue(database: Database, keys: range, at: datetime) -> None:
    async with database.session() as session:
        for n in keys:
            message = build_message(
                Rendered(f"Message {n}", f"Body {n}\n", f"<p>Body {n}</p>"),
                sender="webinars@cme.example.org",
                recipient=f"physician{n}@example.org",
                domain="cme.example.org",
                now=at,
            )
            await enqueue(session, key=f"fault:{n}", kind="test", message=message, now=at)
        await session.commit()


async def _rows(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


async def _minute(worker: DeliveryWorker, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        await worker.run_once()


async def test_an_hour_without_smtp_then_the_queue_catches_up_and_sends_each_message_once(
    database: Database,
) -> None:
    port = free_port()  # nothing listens here for the first hour: connections are refused
    worker = DeliveryWorker(
        database.session,
        SmtpTransport(f"smtp://mailer:s3cret@127.0.0.1:{port}", timeout=5),
        sender="webinars@cme.example.org",
        rate_per_second=0,
    )
    await _queue(database, range(10), START)

    for minute in range(60):
        if minute == 30:  # the service keeps queueing during the outage
            await _queue(database, range(10, 15), START + minute * MINUTE)
        await _minute(worker, START + minute * MINUTE)
    during = await _rows(database)
    server: Generator[SmtpServer] = run_server(port=port)
    smtp = next(server)
    try:
        for minute in range(60, 130):
            await _minute(worker, START + minute * MINUTE)
    finally:
        server.close()
    after = await _rows(database)

    assert {row.status for row in during} == {"pending"}
    assert all("Connect" in (row.last_error or "") for row in during)
    assert Counter(smtp.recorder.message_ids()) == Counter(row.message_id for row in after)
    assert max(Counter(smtp.recorder.message_ids()).values()) == 1
    assert {row.status for row in after} == {"sent"}
    assert max(row.attempts for row in after) <= 8
