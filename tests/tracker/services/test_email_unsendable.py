"""A message that cannot be sent never holds up the others (issue 8, defect 3).

Physicians with internationalised addresses are queued beside ordinary ones and handed to a real
SMTP server (aiosmtpd) that does or does not offer SMTPUTF8 (RFC 6531). Time is moved with
time-machine; nothing sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport, Transport
from notifications.worker import DeliveryWorker
from tests.factories import create_physician, create_series, job_context
from tests.smtp import SmtpServer, run_server
from tracker.db import Database
from tracker.jobs import plan_reminders

SENDER = "webinars@cme.example.org"
QUEUED_AT = datetime(2026, 11, 30, 11, 31, tzinfo=UTC)  # the P1D reminders of 1 December
SENT_AT = datetime(2026, 11, 30, 11, 32, tzinfo=UTC)
ADDRESSES = (
    "jeanne@example.org",
    "chloé.simon@example.org",  # a non-ASCII local part: deliverable only with SMTPUTF8
    "paul@example.org",
    "zoe@exämple.org",  # an internationalised domain: deliverable everywhere as IDNA
)


@pytest.fixture
def smtputf8_server() -> Iterator[SmtpServer]:
    """A real SMTP server that offers SMTPUTF8."""
    yield from run_server(smtputf8=True)


async def _queue_reminders(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    """One P1D reminder per address in :data:`ADDRESSES`, queued through the real planner."""
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=TU",
        reminders=["P1D"],
        language="en",
    )
    for n, address in enumerate(ADDRESSES):
        physician = await create_physician(
            client, auth, email=address, npi=None, first_name=f"Physician{n}"
        )
        response = await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
        assert response.status == 201, await response.text()
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(QUEUED_AT, tick=False):
        await plan_reminders(ctx)


async def _deliver(database: Database, transport: Transport) -> int:
    worker = DeliveryWorker(database.session, transport, sender=SENDER, rate_per_second=0)
    with time_machine.travel(SENT_AT, tick=False):
        return await worker.run_once()


async def _rows(database: Database) -> dict[str, OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return {row.recipient: row for row in rows.all()}


async def test_accented_local_part_fails_alone_when_the_server_lacks_smtputf8(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _queue_reminders(client, auth, database, scheduler)

    handled = await _deliver(database, SmtpTransport(smtp_server.url))
    rows = await _rows(database)
    failed = (
        await (await client.get("/api/outbox", params={"status": "failed"}, headers=auth)).json()
    )["items"]

    assert handled == 4
    assert sorted(smtp_server.recorder.recipients()) == [
        "jeanne@example.org",
        "paul@example.org",
        "zoe@xn--exmple-cua.org",
    ]
    assert {recipient: row.status for recipient, row in rows.items()} == {
        "jeanne@example.org": "sent",
        "chloé.simon@example.org": "failed",
        "paul@example.org": "sent",
        "zoe@xn--exmple-cua.org": "sent",
    }
    assert [(row["recipient"], row["attempts"]) for row in failed] == [
        ("chloé.simon@example.org", 1)
    ]
    assert "SMTPUTF8" in failed[0]["last_error"]
    assert "chloé.simon@example.org" in failed[0]["last_error"]


async def test_accented_local_part_is_sent_with_smtputf8_when_the_server_offers_it(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtputf8_server: SmtpServer,
) -> None:
    await _queue_reminders(client, auth, database, scheduler)

    await _deliver(database, SmtpTransport(smtputf8_server.url))
    rows = await _rows(database)
    received = {
        message["To"].addresses[0].addr_spec: message
        for message in smtputf8_server.recorder.messages
    }

    assert {row.status for row in rows.values()} == {"sent"}
    assert sorted(smtputf8_server.recorder.recipients()) == [
        "chloé.simon@example.org",
        "jeanne@example.org",
        "paul@example.org",
        "zoe@xn--exmple-cua.org",
    ]
    chloe = received["chloé.simon@example.org"]
    assert str(chloe["To"].addresses[0].display_name) == "Physician1 Durand"
    assert str(chloe["Subject"]).startswith("Rappel : Les lundis de la santé numérique, ")
    assert "Bonjour Physician1 Durand," in chloe.get_body(("plain",)).get_content()


@dataclass(frozen=True)
class BreaksFor:
    """The real SMTP transport, except that one recipient makes it raise an error nobody
    foresaw (what a library bug or a full disk looks like to the worker)."""

    inner: SmtpTransport
    recipient: str

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        if recipient == self.recipient:
            raise RuntimeError("something nobody foresaw")
        await self.inner.send(raw, sender=sender, recipient=recipient)


async def test_an_unexpected_error_fails_that_message_only_with_its_reason(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtputf8_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _queue_reminders(client, auth, database, scheduler)
    transport = BreaksFor(SmtpTransport(smtputf8_server.url), "paul@example.org")

    with caplog.at_level(logging.ERROR, logger="notifications.worker"):
        handled = await _deliver(database, transport)
    rows = await _rows(database)

    assert handled == 4
    assert {recipient: row.status for recipient, row in rows.items()} == {
        "jeanne@example.org": "sent",
        "chloé.simon@example.org": "sent",
        "paul@example.org": "failed",
        "zoe@xn--exmple-cua.org": "sent",
    }
    assert rows["paul@example.org"].last_error == "RuntimeError: something nobody foresaw"
    assert rows["paul@example.org"].key in caplog.text
