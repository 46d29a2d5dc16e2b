"""A series that requires claims, its evaluation, two attendees and the credits made final:
the setting of the claim tests (services, pages, emails, browser)."""

from __future__ import annotations

import re
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
from tests.factories import create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
from tracker.db import Database
from tracker.jobs import plan_finalisations

SENDER = "webinars@cme.example.org"
#: The session: Tuesday 1 December 2026, 12:30 to 13:30 in Paris (11:30 to 12:30 UTC).
FINAL = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
#: Claims close 30 days after they are offered (the credits made final at FINAL): 31 December
#: 2026, 14:05 UTC.
CLOSES = datetime(2026, 12, 31, 14, 5, tzinfo=UTC)
LINK = re.compile(r"https://cme\.example\.org(/claims/clm_[A-Za-z0-9_-]{43})\?lang=(fr|en)")
QUESTIONS = [
    {
        "kind": "scale",
        "text_fr": "Cette session a-t-elle répondu à vos besoins ?",
        "text_en": "Did this session meet your needs?",
    },
    {
        "kind": "yes_no",
        "text_fr": "Changerez-vous votre pratique ?",
        "text_en": "Will you change your practice?",
    },
    {
        "kind": "text",
        "text_fr": "Vos commentaires",
        "text_en": "Your comments",
    },
]


@dataclass(frozen=True)
class ClaimWorld:
    series_id: int
    occurrence_id: int
    question_ids: tuple[int, int, int]
    jeanne: dict[str, Any]
    paul: dict[str, Any]


async def build_claim_world(
    client: TestClient,
    auth: dict[str, str],
    *,
    title: str = "Les lundis de la santé numérique",
    min_attendance_percent: float | None = 50,
) -> ClaimWorld:
    """The series (one session, claims required, 30 days), its three questions, Jeanne (French,
    Paris, the whole hour) and Paul (English, New York, 45 minutes), attendance recorded."""
    series = await create_series(
        client,
        auth,
        title=title,
        start="2026-12-01T12:30:00",
        rrule=None,
        reminders=[],
        min_attendance_percent=min_attendance_percent,
        claim_required=True,
    )
    response = await client.put(
        f"/api/series/{series['id']}/evaluation", json={"questions": QUESTIONS}, headers=auth
    )
    assert response.status == 200, await response.text()
    ids = tuple(q["id"] for q in (await response.json())["questions"])
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
    (occurrence,) = await occurrences(client, auth, series["id"])
    events = [
        {
            "event_id": f"{kind}-{who['id']}",
            "occurrence_id": occurrence["id"],
            "physician_id": who["id"],
            "kind": kind,
            "at": at,
        }
        for who, leave in ((jeanne, "2026-12-01T12:30:00Z"), (paul, "2026-12-01T12:15:00Z"))
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", leave))
    ]
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    return ClaimWorld(series["id"], occurrence["id"], ids, jeanne, paul)


async def finalise(database: Database, scheduler: Any) -> None:
    """The planner at 14:05 that day: credits final, claims (not certificates) emailed."""
    with time_machine.travel(FINAL, tick=False):
        await plan_finalisations(job_context(database, scheduler))


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


async def deliver(database: Database, smtp: SmtpServer, at: datetime) -> list[EmailMessage]:
    """Send what is due at ``at`` to the real SMTP server; the messages it received so far."""
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender=SENDER, rate_per_second=0
    )
    with time_machine.travel(at, tick=False):
        await worker.run_once()
    return list(smtp.recorder.messages)


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def link_in(message: EmailMessage) -> tuple[str, str]:
    """The claim link's path and language, from the text part (the HTML part holds it too)."""
    found = LINK.search(text_of(message))
    assert found is not None, text_of(message)
    html = message.get_body(("html",))
    assert html is not None and found.group(1) in str(html.get_content())
    return found.group(1), found.group(2)
