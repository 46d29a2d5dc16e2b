"""The delivery worker sends a burst of messages over one SMTP connection, and opens a fresh
one after a failure or when the server closed the kept one."""

from __future__ import annotations

from sqlmodel import select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import queue_messages
from tests.smtp import SmtpServer
from tracker.db import Database

SENDER = "webinars@cme.example.org"


async def _statuses(database: Database) -> dict[str, str]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage.recipient, OutboxMessage.status))
        return {recipient: str(status) for recipient, status in rows.all()}


async def test_a_burst_of_messages_goes_over_one_smtp_connection(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue_messages(database, 12)
    transport = SmtpTransport(smtp_server.url)

    handled = await DeliveryWorker(
        database.session, transport, sender=SENDER, rate_per_second=0
    ).run_once()

    assert handled == 12
    assert len(smtp_server.recorder.messages) == 12
    assert len(set(smtp_server.recorder.connections)) == 1
    assert transport.connections == 1


async def test_after_a_refused_message_the_next_goes_on_a_fresh_connection(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue_messages(database, 4)
    # the first message is accepted, the second refused for now, the rest accepted
    smtp_server.recorder.replies = ["250 OK", "451 4.3.0 try again later"]
    transport = SmtpTransport(smtp_server.url)

    await DeliveryWorker(database.session, transport, sender=SENDER, rate_per_second=0).run_once()

    statuses = sorted((await _statuses(database)).values())
    connections = smtp_server.recorder.connections
    assert statuses == ["pending", "sent", "sent", "sent"]  # pending: retried later
    assert connections[0] == connections[1] != connections[2] == connections[3]
    assert transport.connections == 2


async def test_a_kept_connection_the_server_closed_is_reopened_without_losing_the_message(
    database: Database, smtp_server: SmtpServer
) -> None:
    await queue_messages(database, 1)
    transport = SmtpTransport(smtp_server.url)
    worker = DeliveryWorker(database.session, transport, sender=SENDER, rate_per_second=0)
    await transport.send(b"Subject: first\r\n\r\nbody\r\n", sender=SENDER, recipient="a@x.org")
    assert transport._client is not None
    transport._client.transport.close()  # the server hung up

    await worker.run_once()

    assert await _statuses(database) == {"p0@example.org": "sent"}
    assert transport.connections == 2
