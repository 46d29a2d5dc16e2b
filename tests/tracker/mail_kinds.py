"""Every kind of email, queued through the real app and jobs: the setting for the tests that feed
hostile text to the composition (a series, two physicians, a reminder, a cancellation, a move,
certificates after attendance, and the monthly statement)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from schedules.models import Series
from tests.factories import create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
from tracker.db import Database
from tracker.domain.mailings import MailSettings
from tracker.domain.models import Physician
from tracker.jobs import plan_finalisations, plan_reminders
from tracker.services.statements import send_statements

SENDER = "webinars@cme.example.org"
KINDS = ("reminder", "cancelled", "moved", "certificate", "statement")
#: Headers each message carries, and nothing else (a ``Bcc:`` smuggled in a title shows here).
HEADERS = {
    "reminder": [
        "Content-Type",
        "Date",
        "From",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
        "Message-ID",
        "Subject",
        "To",
    ],
    **{
        kind: ["Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"]
        for kind in ("cancelled", "moved", "certificate", "statement")
    },
    # claims (issue 11): queued in ``test_email_properties``; over SMTP in ``test_claim_emails``
    **{
        kind: ["Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"]
        for kind in ("claim", "claim-reminder")
    },
}

#: What each kind's subject reads for Jeanne (French, Paris) and Paul (English, New York),
#: ``{}`` standing for the title.
SUBJECTS = {
    ("reminder", "jeanne"): "Rappel : {}, le mardi 1er décembre 2026 à 12:30",
    ("reminder", "paul"): "Reminder: {}, on Tuesday 1 December 2026 at 06:30",
    ("cancelled", "jeanne"): "Annulé : {}, le mardi 8 décembre 2026 à 12:30",
    ("cancelled", "paul"): "Cancelled: {}, on Tuesday 8 December 2026 at 06:30",
    ("moved", "jeanne"): "Déplacé : {}, désormais le jeudi 17 décembre 2026 à 18:00",
    ("moved", "paul"): "Moved: {}, now on Thursday 17 December 2026 at 12:00",
    ("certificate", "jeanne"): "Votre attestation : {}, le mardi 1er décembre 2026 à 12:30",
    ("certificate", "paul"): "Your certificate: {}, on Tuesday 1 December 2026 at 06:30",
    ("statement", "jeanne"): "Votre relevé de formation pour décembre 2026",
    ("statement", "paul"): "Your CME statement for December 2026",
}


@dataclass(frozen=True)
class World:
    series_id: int
    occurrence_ids: tuple[int, int, int]
    jeanne: dict[str, Any]
    paul: dict[str, Any]


async def build_world(client: TestClient, auth: dict[str, str], **series_overrides: Any) -> World:
    """A weekly French series (1, 8 and 15 December 2026 at 12:30 Paris), Jeanne (French,
    Paris) and Paul (English, New York) registered."""
    series = await create_series(
        client,
        auth,
        **{
            "start": "2026-12-01T12:30:00",
            "rrule": "FREQ=WEEKLY;COUNT=3;BYDAY=TU",
            "reminders": ["P1D"],
            "min_attendance_percent": None,
            **series_overrides,
        },
    )
    jeanne = await create_physician(client, auth)
    paul = await create_physician(
        client,
        auth,
        first_name="Paul",
        last_name="Martin",
        email="paul@example.org",
        npi=None,
        language="en",
        timezone="America/New_York",
    )
    for physician in (jeanne, paul):
        response = await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
        assert response.status == 201, await response.text()
    first, second, third = (row["id"] for row in await occurrences(client, auth, series["id"]))
    return World(series["id"], (first, second, third), jeanne, paul)


async def rename(
    database: Database,
    world: World,
    *,
    title: str | None = None,
    description: str | None = None,
    names: dict[int, tuple[str, str]] | None = None,
) -> None:
    """Put text in the stored rows directly: composition must hold whatever the database holds
    (rows written by an older version, an import, another tool), not only what the API lets in."""
    async with database.session() as session:
        series = await session.get_one(Series, world.series_id)
        if title is not None:
            series.title = title
        if description is not None:
            series.description = description
        for physician_id, (first, last) in (names or {}).items():
            physician = await session.get_one(Physician, physician_id)
            physician.first_name, physician.last_name = first, last
        await session.commit()


async def queue_every_kind(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    world: World,
    *,
    mail: MailSettings | None = None,
) -> None:
    """A reminder, a cancellation notice, a move notice, certificates and statements, each
    through the path that queues it in the service (``mail``: the app's, credit labels read
    from the database, instead of the test identity)."""
    ctx = job_context(database, scheduler)
    if mail is not None:
        ctx = dataclasses.replace(ctx, mail=mail)
    first, second, third = world.occurrence_ids
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)  # the P1D reminders of 1 December
        cancel = await client.patch(
            f"/api/occurrences/{second}", json={"status": "cancelled"}, headers=auth
        )
        move = await client.patch(
            f"/api/occurrences/{third}", json={"start": "2026-12-17T18:00:00"}, headers=auth
        )
        assert (cancel.status, move.status) == (200, 200), await move.text()
    events = [
        {
            "event_id": f"{kind}-{who['id']}",
            "occurrence_id": first,
            "physician_id": who["id"],
            "kind": kind,
            "at": at,
        }
        for who in (world.jeanne, world.paul)
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", "2026-12-01T12:30:00Z"))
    ]
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)
    await send_statements(database, ctx.mail, "2026-12", now=datetime(2027, 1, 1, 6, 5, tzinfo=UTC))


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


def kind_of(row: OutboxMessage, world: World) -> str:
    """``reminder``, ``cancelled``, ``moved``, ``certificate`` or ``statement``."""
    if row.kind != "notice":
        return row.kind
    return "cancelled" if row.occurrence_id == world.occurrence_ids[1] else "moved"


async def deliver(database: Database, smtp: SmtpServer) -> dict[str, EmailMessage]:
    """Send the whole outbox to the real SMTP server; the messages read back, by Message-ID."""
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender=SENDER, rate_per_second=0
    )
    with time_machine.travel(datetime(2027, 1, 2, 9, 0, tzinfo=UTC), tick=False):
        await worker.run_once()
    return {str(message["Message-ID"]): message for message in smtp.recorder.messages}
