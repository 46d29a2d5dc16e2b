"""Hostile text in titles and names reaches the claim emails (credits final: claim them; the
reminder before claims close; the certificate issued on the claim) intact and harmless, in
French and English, over a real SMTP server, as the other email kinds do
(``test_email_composition``)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from schedules.models import Series
from tests.factories import job_context
from tests.smtp import SmtpServer, parse
from tests.tracker.claims_world import (
    CLOSES,
    FINAL,
    ClaimWorld,
    build_claim_world,
    deliver,
    finalise,
    link_in,
    outbox,
    text_of,
)
from tests.tracker.domain.test_email_composition import CLEAN_TITLES, HOSTILE_TITLES
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.jobs import claim_reminders_job

pytestmark = pytest.mark.any_engine

#: The claim kinds, as the outbox names them, and their headers (nothing else: a ``Bcc:``
#: smuggled in a title would show here).
KINDS = ("claim", "claim-reminder", "certificate")
HEADERS = ["Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"]
SUBJECTS = {
    (
        "claim",
        "jeanne",
    ): "Vos crédits sont définitifs, demandez-les : {}, le mardi 1er décembre 2026 à 12:30",
    (
        "claim",
        "paul",
    ): "Your credits are final, claim them: {}, on Tuesday 1 December 2026 at 06:30",
    ("certificate", "jeanne"): "Votre attestation : {}, le mardi 1er décembre 2026 à 12:30",
    (
        "claim-reminder",
        "paul",
    ): "Reminder: claim your credits for {} (closing on Thursday 31 December 2026 at 09:05)",
}
HTML_TITLE = '<script>alert("x")</script> & Santé'


async def _rename(database: Database, world: ClaimWorld, title: str) -> None:
    """Text put in the stored rows directly: composition must hold whatever the database holds."""
    async with database.session() as session:
        series = await session.get_one(Series, world.series_id)
        series.title = title
        jeanne = await session.get_one(Physician, world.jeanne["id"])
        jeanne.first_name, jeanne.last_name = (
            "Jeanne\u2028Marie",
            "Durand\r\nBcc: attacker@evil.example",
        )
        paul = await session.get_one(Physician, world.paul["id"])
        paul.first_name, paul.last_name = 'Paul, "Doc"', "Martin <paul@evil.example>"
        await session.commit()


async def _every_claim_kind(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any, title: str
) -> None:
    """Claims emailed at finalisation; Jeanne claims (her certificate); Paul is reminded."""
    world = await build_claim_world(client, auth)
    await _rename(database, world, title)
    await finalise(database, scheduler)
    rows = await outbox(database)
    (jeanne_row,) = [r for r in rows if r.recipient == "jeanne.durand@example.org"]
    path, _ = link_in(parse(jeanne_row.raw))
    scale, yes_no, _text = world.question_ids
    with time_machine.travel(FINAL + timedelta(hours=1), tick=False):
        done = await client.post(
            path,
            data={"minutes": "60", "attest": "yes", f"q{scale}": "5", f"q{yes_no}": "no"},
        )
        assert done.status == 200, await done.text()
    with time_machine.travel(CLOSES - timedelta(days=3), tick=False):
        await claim_reminders_job(job_context(database, scheduler))


def _who(message: EmailMessage) -> str:
    (address,) = message["To"].addresses
    return {"jeanne.durand@example.org": "jeanne", "paul@example.org": "paul"}[address.addr_spec]


@pytest.mark.parametrize("case", list(HOSTILE_TITLES))
async def test_hostile_titles_and_names_reach_every_claim_email_intact(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
    case: str,
) -> None:
    await _every_claim_kind(client, auth, database, scheduler, HOSTILE_TITLES[case])
    received = await deliver(database, smtp_server, CLOSES - timedelta(days=2))
    rows = await outbox(database)

    assert sorted(row.kind for row in rows) == sorted(
        ["claim", "claim", "certificate", "claim-reminder"]
    )
    assert {row.status for row in rows} == {"sent"}
    names = {
        "jeanne": "Jeanne Marie Durand Bcc: attacker@evil.example",
        "paul": 'Paul, "Doc" Martin <paul@evil.example>',
    }
    by_id = {str(m["Message-ID"]): m for m in received}
    for row in rows:
        message = by_id[row.message_id]
        who = _who(message)
        (address,) = message["To"].addresses
        assert sorted(message.keys()) == HEADERS
        assert str(message["Subject"]) == SUBJECTS[row.kind, who].format(CLEAN_TITLES[case])
        assert address.display_name == names[who]
        text = text_of(message)
        assert text.startswith(("Bonjour Jeanne\nMarie Durand\n", "Hello Paul, "))
        assert "attacker@evil.example" not in str(message["Bcc"] or "")
        if row.kind != "certificate":
            link_in(message)


async def test_html_in_a_title_is_shown_as_text_in_the_claim_emails(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _every_claim_kind(client, auth, database, scheduler, HTML_TITLE)
    received = await deliver(database, smtp_server, CLOSES - timedelta(days=2))
    assert len(received) == 4
    for message in received:
        html = str(message.get_body(("html",)).get_content())
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert HTML_TITLE in text_of(message)
