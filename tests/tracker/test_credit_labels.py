"""Credit type labels in the reader's language (migration 0021): every page in the page's
language, every email and its PDFs in the physician's, every feed in its series' language. The
AMA's credit name and designation statement stay verbatim in English everywhere.

Emails go through a real SMTP server; PDFs are read back by poppler; pages and feeds come from
the real app."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from schedules.wording import CreditLabels
from tests.factories import create_physician, create_series
from tests.pdf_tools import pdftotext
from tests.smtp import SmtpServer
from tests.tracker.mail_kinds import build_world, deliver, queue_every_kind
from tests.tracker.security_world import physician_session
from tracker.db import Database
from tracker.http.keys import MAIL

pytestmark = pytest.mark.any_engine

CREDITS = [
    {"type": "AMA_PRA_1", "max": 1.0},
    {"type": "ABIM_MOC", "max": 1.0},
    {"type": "DPC_HOURS", "max": 1.0},
]
AMA = "AMA PRA Category 1 Credit(s)™"
#: What a reader of each language must see (the ABIM label, then the DPC one), and must not.
SEEN = {"fr": ("MOC de l'ABIM", " DPC"), "en": ("ABIM MOC points", "DPC hours")}
UNSEEN = {
    "fr": ("ABIM MOC points", "DPC hours"),
    "en": ("MOC de l'ABIM", "heures DPC", "heure DPC"),
}


def _assert_reads_in(text: str, language: str, *, dpc: bool = True) -> None:
    """``dpc``: the text names DPC credit by its label (a certificate's DPC section does not:
    it prints the duration the DPC fields require)."""
    for words in SEEN[language][: 2 if dpc else 1]:
        assert words in text, (language, words, text)
    for words in UNSEEN[language]:
        assert words not in text, (language, words, text)
    if language == "fr" and dpc:
        assert "heure DPC" in text or "heures DPC" in text, text


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def _pdfs(message: EmailMessage) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and str(part.get_filename()).endswith(".pdf"):
            found[str(part.get_filename()).split("-")[0]] = payload
    return found


async def test_the_app_reads_each_credit_type_label_per_language_from_the_database(
    client: TestClient,
) -> None:
    labels: CreditLabels = client.app[MAIL].labels

    assert labels.of("fr") == {
        "AMA_PRA_1": AMA,
        "ABIM_MOC": "points MOC de l'ABIM",
        "DPC_HOURS": "heures DPC",
        "SMC_HOURS": "heures de crédit SMC",
    }
    assert labels.of("en") == {
        "AMA_PRA_1": AMA,
        "ABIM_MOC": "ABIM MOC points",
        "DPC_HOURS": "DPC hours",
        "SMC_HOURS": "SMC credit hours",
    }


def test_a_type_with_one_label_shows_it_in_every_language() -> None:
    labels = CreditLabels({"X": "board X hours", "Y": "Y"}, {"Y": {"fr": "heures Y"}})

    assert labels.of("fr") == {"X": "board X hours", "Y": "heures Y"}
    assert labels.of("en") == {"X": "board X hours", "Y": "Y"}
    assert labels.label("UNKNOWN", "fr") == "UNKNOWN"


async def test_every_email_and_its_pdfs_use_the_physicians_language(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world = await build_world(client, auth, credits=CREDITS)
    await queue_every_kind(client, auth, database, scheduler, world, mail=client.app[MAIL])

    messages = list((await deliver(database, smtp_server)).values())

    language = {"jeanne.durand@example.org": "fr", "paul@example.org": "en"}
    seen: set[tuple[str, str]] = set()
    for message in messages:
        (address,) = message["To"].addresses
        lang = language[address.addr_spec]
        body = _body(message)
        if "MOC" not in body:  # cancellation and move notices name no credit
            continue
        _assert_reads_in(body, lang)
        subject = str(message["Subject"])
        kind = (
            "statement"
            if "statement" in subject or "relevé" in subject
            else "certificate"
            if "ttestation" in subject or "certificate" in subject
            else "reminder"
        )
        seen.add((kind, lang))
        for name, pdf in _pdfs(message).items():
            text = " ".join(pdftotext(pdf))
            _assert_reads_in(text, lang, dpc=name == "statement")
            seen.add((name + ".pdf", lang))
        if kind == "reminder":
            assert f"{AMA}. Physicians should claim only the credit" in body  # verbatim English

    assert seen == {
        (kind, lang)
        for kind in ("reminder", "certificate", "statement", "certificate.pdf", "statement.pdf")
        for lang in ("fr", "en")
    }


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_physician_page_and_the_public_pages_use_the_page_language(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
    lang: str,
) -> None:
    world = await build_world(client, auth, credits=CREDITS)
    await queue_every_kind(client, auth, database, scheduler, world, mail=client.app[MAIL])
    cookie, _ = await physician_session(client, world.paul["token"])

    with time_machine.travel("2026-11-30T09:00:00Z", tick=False):
        me = await (await client.get(f"/me?lang={lang}", headers={"Cookie": cookie})).text()
        home = await (await client.get(f"/?lang={lang}")).text()

    for html in (me, home):
        _assert_reads_in(html.replace("&#39;", "'"), lang)
    assert AMA in home


@pytest.mark.parametrize(("language", "expected"), [("fr", "fr"), ("en", "en")])
async def test_every_feed_words_its_events_in_the_series_language(
    client: TestClient, auth: dict[str, str], language: str, expected: str
) -> None:
    series = await create_series(
        client, auth, credits=CREDITS, language=language, start="2026-12-07T12:30:00"
    )
    physician = await create_physician(client, auth, language="en" if language == "fr" else "fr")
    await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    slug = (await (await client.get(f"/api/series/{series['id']}", headers=auth)).json())["slug"]

    with time_machine.travel("2026-11-30T09:00:00Z", tick=False):
        feeds = {
            path: await (await client.get(path)).read()
            for path in ("/calendar.ics", f"/series/{slug}.ics", f"/feeds/{physician['token']}.ics")
        }

    for path, body in feeds.items():
        (event,) = Calendar.from_ical(body).walk("VEVENT")
        description = str(event["DESCRIPTION"])
        _assert_reads_in(description, expected)
        assert f"maximum of 1.0 {AMA}." in description, path
