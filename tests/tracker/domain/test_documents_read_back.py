"""Certificates and monthly statements read back by poppler (issue 15, points 8 and 11).

Certificates are downloaded through the real route (``GET /api/me/certificates/{id}.pdf``),
statements taken from the real email sent to a real SMTP server (aiosmtpd); ``pdftotext`` must
give every name back exactly, ``pdffonts`` must list every font as embedded (the PDF can be
archived), and the content must read as French or English typography wants it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tests.pdf_tools import pdffonts, pdftotext
from tests.smtp import SmtpServer
from tracker.db import Database
from tracker.http.keys import MAIL
from tracker.jobs import plan_finalisations
from tracker.services.statements import send_statements
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

#: What poppler gives back for the no-break space French puts before a colon (its own glyph in
#: the font; text extraction writes it as a plain space, as pypdf does).
NBSP = " "
#: Names outside Windows-1252 (the core PDF fonts' encoding), with the language of the physician.
NAMES = {
    "polish": ("Łukasz", "Żółć", "fr"),
    "greek": ("Ελένη", "Παπαδοπούλου", "en"),
    "russian": ("Дмитрий", "Иванов", "fr"),
    "chinese": ("芳", "王", "en"),
    "vietnamese": ("Nguyễn Thị", "Minh Khai", "fr"),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "certificate_signatory_name": "Dr Hélène Dupont-Łęcka",
            "certificate_signatory_title": "Directrice scientifique",
        }
    )


async def _attend_and_finalise(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    people: dict[str, tuple[str, str, str]],
) -> tuple[int, dict[str, dict[str, Any]]]:
    """A French Zoom series on 1 December 2026 (AMA and DPC credit), every physician attending
    the whole hour; credits final, certificates issued."""
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=1;BYDAY=TU",
        credits=[{"type": "AMA_PRA_1", "max": 1.0}, {"type": "DPC_HOURS", "max": 1.0}],
        min_attendance_percent=None,
    )
    (first,) = await occurrences(client, auth, series["id"])
    created: dict[str, dict[str, Any]] = {}
    for number, (key, (first_name, last_name, language)) in enumerate(people.items()):
        created[key] = await create_physician(
            client,
            auth,
            first_name=first_name,
            last_name=last_name,
            email=f"physician{number}@example.org",
            language=language,
            npi=None,
        )
    events = [
        {
            "event_id": f"{kind}-{physician['id']}",
            "occurrence_id": first["id"],
            "physician_id": physician["id"],
            "kind": kind,
            "at": at,
        }
        for physician in created.values()
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", "2026-12-01T12:30:00Z"))
    ]
    ctx = dataclasses.replace(job_context(database, scheduler), mail=client.app[MAIL])
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)
    return first["id"], created


async def _certificate(client: TestClient, occurrence_id: int, physician: dict[str, Any]) -> bytes:
    response = await client.get(
        f"/api/me/certificates/{occurrence_id}.pdf", headers=bearer(physician["token"])
    )
    assert (response.status, response.content_type) == (200, "application/pdf")
    return await response.read()


async def _statements(client: TestClient, database: Database, smtp: SmtpServer) -> dict[str, bytes]:
    """December's statements sent: the PDF of each recipient, from the messages the SMTP server
    received."""
    await send_statements(
        database, client.app[MAIL], "2026-12", now=datetime(2027, 1, 1, 6, 5, tzinfo=UTC)
    )
    worker = DeliveryWorker(
        database.session,
        SmtpTransport(smtp.url),
        sender="webinars@cme.example.org",
        rate_per_second=0,
    )
    with time_machine.travel(datetime(2027, 1, 2, 9, 0, tzinfo=UTC), tick=False):
        await worker.run_once()
    found: dict[str, bytes] = {}
    for message in smtp.recorder.messages:
        for part in message.iter_attachments():
            if str(part.get_filename()).startswith("statement-"):
                found[_recipient(message)] = _payload(part)
    return found


def _recipient(message: EmailMessage) -> str:
    (address,) = message["To"].addresses
    return str(address.addr_spec)


def _payload(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def _prose(lines: list[str]) -> str:
    """The lines as one text (a paragraph wraps where the page ends it)."""
    return " ".join(line.strip() for line in lines if line.strip())


async def test_names_outside_windows_1252_come_back_whole_from_certificates_and_statements(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence_id, physicians = await _attend_and_finalise(client, auth, database, scheduler, NAMES)
    statements = await _statements(client, database, smtp_server)

    for key, (first_name, last_name, _language) in NAMES.items():
        physician = physicians[key]
        certificate = await _certificate(client, occurrence_id, physician)
        statement = statements[physician["email"]]
        for document in (certificate, statement):
            fonts = pdffonts(document)
            assert (key, f"{first_name} {last_name}" in pdftotext(document)) == (key, True)
            assert [(f["name"].split("+")[-1], f["emb"]) for f in fonts if f["emb"] != "yes"] == []
            families = {font["name"].split("+")[-1] for font in fonts}
            expected = {"OpenSans-Bold", "OpenSans-Regular"} | (
                {"WenQuanYiMicroHei-0"} if key == "chinese" else set()
            )
            assert (key, families) == (key, expected)


async def test_certificates_and_statements_read_in_french_and_in_english(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    people = {"jeanne": ("Jeanne", "Durand", "fr"), "paul": ("Paul", "Martin", "en")}
    occurrence_id, physicians = await _attend_and_finalise(
        client, auth, database, scheduler, people
    )
    await client.post(
        f"/api/physicians/{physicians['jeanne']['id']}/requirements",
        json={"type": "DPC_HOURS", "required": 28, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    await client.post(
        f"/api/physicians/{physicians['paul']['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 50, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    statements = await _statements(client, database, smtp_server)
    french = pdftotext(await _certificate(client, occurrence_id, physicians["jeanne"]))
    english = pdftotext(await _certificate(client, occurrence_id, physicians["paul"]))
    relevé = pdftotext(statements["physician0@example.org"])
    statement = pdftotext(statements["physician1@example.org"])

    assert {
        f"Format{NBSP}: Activité en direct — webinaire",
        f"Lieu{NBSP}: En ligne (Zoom)",
        f"Minutes de présence{NBSP}: 60 min",
        f"Crédits obtenus{NBSP}: 1,0 AMA PRA Category 1 Credit(s)™",  # the AMA section's
        "Dr Hélène Dupont-Łęcka",
        "Directrice scientifique",
        "Délivrée le mardi 1er décembre 2026",
    } <= set(french)
    assert {f"Durée{NBSP}: 1 h", f"Format{NBSP}: classe virtuelle"} <= set(french)  # DPC fields
    assert (
        "L’organisme Institut du Numérique en Santé est accrédité par l’Accreditation Council "
        "for Continuing Medical Education (ACCME) pour dispenser la formation médicale continue "
        "aux médecins."
    ) in _prose(french)
    assert {
        "Format: Live activity — webinar",
        "Location: Online (Zoom)",
        "Minutes attended: 60 min",
        "Credits awarded: 1.0 AMA PRA Category 1 Credit(s)™",  # the AMA section's
        "Dr Hélène Dupont-Łęcka",
        "Issued on Tuesday 1 December 2026",
    } <= set(english)
    assert {"Duration: 1 h", "Format: virtual classroom (classe virtuelle)"} <= set(english)
    assert (
        "Institut du Numérique en Santé is accredited by the Accreditation Council for "
        "Continuing Medical Education (ACCME) to provide continuing medical education for "
        "physicians."
    ) in _prose(english)
    assert [line for line in english if "Cette" in line or "validée" in line] == []
    assert {
        f"Relevé de formation{NBSP}: décembre 2026",
        "1,0 AMA PRA Category 1 Credit(s)™",
        f"heures DPC{NBSP}: 1,0 sur 28,0 (du 1er janvier 2026 au 31 décembre 2026)",
    } <= set(relevé)
    assert (
        "mardi 1er décembre 2026 — Les lundis de la santé numérique — 60 min — "
        "1,0 AMA PRA Category 1 Credit(s)™, 1,0 heure DPC"
    ) in _prose(relevé)
    assert {
        "CME statement: December 2026",
        "1.0 AMA PRA Category 1 Credit(s)™",
        "1.0 DPC hours",
        "AMA PRA Category 1 Credit(s)™: 1.0 of 50.0 (1 January 2026 to 31 December 2026)",
    } <= set(statement)


def test_the_fonts_are_found_from_any_working_directory(tmp_path: Path) -> None:
    """The fonts are package data of installed distributions, not files beside the code."""
    script = (
        "import sys\n"
        "from notifications.pdf import StatementData, statement_pdf\n"
        "data = StatementData(language='en', title='CME statement', provider='P',\n"
        "    physician_name='Дмитрий 王芳', totals_title='t', totals=(), requirements_title='r',\n"
        "    requirements=(), sessions_title='s')\n"
        "sys.stdout.buffer.write(statement_pdf(data))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, check=True, timeout=120
    )

    assert "Дмитрий 王芳" in pdftotext(done.stdout)
    assert {font["emb"] for font in pdffonts(done.stdout)} == {"yes"}
