"""Hostile text in titles and names reaches every kind of email intact and harmless (issue 8,
defects 4 and 6).

Every message is sent to a real SMTP server and read back with Python's ``email`` package
(``policy.default``), as a mail client would read it.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar
from pypdf import PdfReader

from schedules.models import Occurrence, Series
from tests.factories import job_context
from tests.smtp import SmtpServer
from tests.tracker.mail_kinds import (
    HEADERS,
    KINDS,
    SUBJECTS,
    World,
    build_world,
    deliver,
    kind_of,
    outbox,
    queue_every_kind,
    rename,
)
from tracker.db import Database
from tracker.domain.mailings import enqueue_reminders
from tracker.domain.models import Physician

pytestmark = pytest.mark.any_engine

HOSTILE_TITLES = {
    "carriage return": "Santé\rnumérique",
    "vertical tab": "Santé\vnumérique",
    "line separator": "Santé\u2028numérique",
    "line feed and a header": "Santé\nnumérique\nBcc: attacker@evil.example",
}
#: How each title reads once cleaned for a header.
CLEAN_TITLES = {
    "carriage return": "Santé numérique",
    "vertical tab": "Santé numérique",
    "line separator": "Santé numérique",
    "line feed and a header": "Santé numérique Bcc: attacker@evil.example",
}


def _who(message: EmailMessage, world: World) -> str:
    (address,) = message["To"].addresses
    return {"jeanne.durand@example.org": "jeanne", "paul@example.org": "paul"}[address.addr_spec]


def _attachments(message: EmailMessage) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found[str(part.get_filename())] = payload
    return found


@pytest.mark.parametrize("case", list(HOSTILE_TITLES))
async def test_hostile_titles_and_names_reach_every_kind_of_email_intact(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
    case: str,
) -> None:
    world = await build_world(client, auth)
    await rename(
        database,
        world,
        title=HOSTILE_TITLES[case],
        names={
            world.jeanne["id"]: ("Jeanne\u2028Marie", "Durand\r\nBcc: attacker@evil.example"),
            world.paul["id"]: ('Paul, "Doc"', "Martin <paul@evil.example>"),
        },
    )

    await queue_every_kind(client, auth, database, scheduler, world)
    received = await deliver(database, smtp_server)
    rows = await outbox(database)

    assert sorted(kind_of(row, world) for row in rows) == sorted(KINDS * 2)
    assert {row.status for row in rows} == {"sent"}
    assert sorted(smtp_server.recorder.recipients()) == sorted(
        ["jeanne.durand@example.org", "paul@example.org"] * len(KINDS)
    )
    names = {"jeanne": "Jeanne Marie Durand Bcc: attacker@evil.example", "paul": None}
    for row in rows:
        message, kind = received[row.message_id], kind_of(row, world)
        who = _who(message, world)
        (address,) = message["To"].addresses
        assert (kind, sorted(message.keys())) == (kind, HEADERS[kind])
        assert str(message["Subject"]) == SUBJECTS[kind, who].format(CLEAN_TITLES[case])
        assert address.display_name == (names[who] or 'Paul, "Doc" Martin <paul@evil.example>')
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content()
        assert text.startswith(("Bonjour Jeanne\nMarie Durand\n", "Hello Paul, "))
        assert html.startswith("<!doctype html>")
        files = _attachments(message)
        if "invite.ics" in files:
            (event,) = Calendar.from_ical(files["invite.ics"]).walk("VEVENT")
            assert str(event["SUMMARY"]).startswith("Santé")
        for name, content in files.items():
            if name.endswith(".pdf"):
                assert len(PdfReader(io.BytesIO(content)).pages) >= 1


async def test_move_and_cancel_notices_carry_the_time_the_session_now_has(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world = await build_world(client, auth)

    await queue_every_kind(client, auth, database, scheduler, world)
    rows = [row for row in await outbox(database) if row.kind == "notice"]
    received = await deliver(database, smtp_server)

    title = "Les lundis de la santé numérique"
    notices = {
        (kind_of(row, world), _who(received[row.message_id], world)): received[row.message_id]
        for row in rows
    }
    bodies = {
        key: message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        for key, message in notices.items()
    }
    assert {key: str(message["Subject"]) for key, message in notices.items()} == {
        key: SUBJECTS[key].format(title) for key in SUBJECTS if key[0] in ("cancelled", "moved")
    }
    assert (
        "prévue le mardi 15 décembre 2026 à 12:30 est déplacée : elle a désormais lieu "
        "le jeudi 17 décembre 2026 à 18:00 (heure de Paris)."
    ) in bodies["moved", "jeanne"]
    assert (
        "planned on Tuesday 15 December 2026 at 06:30 has moved: it now takes place "
        "on Thursday 17 December 2026 at 12:00 (New York time)."
    ) in bodies["moved", "paul"]
    assert (
        "prévue le mardi 8 décembre 2026 à 12:30 (heure de Paris) est annulée."
        in (bodies["cancelled", "jeanne"])
    )


async def test_a_message_that_cannot_be_composed_is_logged_and_recorded_and_the_rest_go(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await build_world(client, auth)
    async with database.session() as session:  # a row from an older version: a zone now gone
        jeanne = await session.get_one(Physician, world.jeanne["id"])
        jeanne.timezone = "Europe/Atlantis"
        await session.commit()

    with caplog.at_level(logging.ERROR, logger="tracker.domain.mailings"):
        async with database.session() as session:
            occurrence = await session.get_one(Occurrence, world.occurrence_ids[0])
            series = await session.get_one(Series, world.series_id)
            queued = await enqueue_reminders(
                session,
                job_context(database, scheduler).mail,
                occurrence,
                series,
                "P1D",
                now=datetime(2026, 11, 30, 11, 30, tzinfo=UTC),
            )
            await session.commit()
    rows = {row.recipient: row for row in await outbox(database)}

    assert queued == 2
    assert {recipient: row.status for recipient, row in rows.items()} == {
        "jeanne.durand@example.org": "failed",
        "paul@example.org": "pending",
    }
    assert "could not compose this message" in (rows["jeanne.durand@example.org"].last_error or "")
    assert "Europe/Atlantis" in (rows["jeanne.durand@example.org"].last_error or "")
    assert rows["jeanne.durand@example.org"].key in caplog.text


async def test_a_long_french_title_and_long_names_keep_every_space_and_every_header(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Python's own header folder lost the space in ``générale — éthique`` and folded a name
    of long words with an empty line, which ended the headers (found by the property tests)."""
    world = await build_world(client, auth)
    title = "Médecine générale — éthique, données de santé et intelligence artificielle"
    long_names = ("Maximiliana" * 9, "Bartholomew" * 9)
    await rename(database, world, title=title, names={world.paul["id"]: long_names})

    await queue_every_kind(client, auth, database, scheduler, world)
    received = await deliver(database, smtp_server)
    rows = await outbox(database)

    for row in rows:
        message, kind = received[row.message_id], kind_of(row, world)
        who = _who(message, world)
        (address,) = message["To"].addresses
        assert (kind, sorted(message.keys())) == (kind, HEADERS[kind])
        assert str(message["Subject"]) == SUBJECTS[kind, who].format(title)
        if who == "paul":
            assert address.display_name == " ".join(long_names)
