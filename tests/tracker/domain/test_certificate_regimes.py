"""Certificate content per regime (issue 11, point 6), read back by poppler.

A 90-minute session designated for AMA PRA Category 1, French DPC hours and an Indian state
medical council's credit hours: the certificate downloaded through the real route prints the
fields of each regime in the physician's language, and names and titles in French and other
Latin scripts come back whole from ``pdftotext``, in embedded Open Sans only.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from schedules.models import Occurrence, Series
from schedules.wording import CreditLabels
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tests.pdf_tools import pdffonts, pdftotext
from tracker.db import Database
from tracker.domain.documents import certificate_data
from tracker.domain.mailings import MailSettings
from tracker.domain.models import Certificate, Physician
from tracker.domain.regimes import duration
from tracker.http.keys import MAIL
from tracker.jobs import plan_finalisations
from tracker.settings import Settings

NBSP = " "
TITLE = "Œuvre et santé : Ŀ, ł, ő, ș, ţ, ğ, ı, ŋ, ß, Å, Ø, Ñ"
PEOPLE = {
    "fr": ("Œnone Ŀlorença", "Łőrincz-Șerbănescu", "fr", "10003456789", "MMC-2001/02/1234"),
    "en": ("Ţuğba Iıldız", "Strauß-Åsgård Øvreŋ Ñúñez", "en", None, "MMC-1999/7/42"),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "dpc_provider_name": "Institut Numérique Œuvre de Santé",
            "dpc_provider_number": "9999",
            "council_name": "Maharashtra Medical Council",
            "council_board": "MMC",
            "certificate_signatory_name": "Dr Søren Ñúñez-Łęcka",
        }
    )


async def _certified(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> tuple[int, dict[str, dict[str, Any]]]:
    series = await create_series(
        client,
        auth,
        title=TITLE,
        start="2026-12-01T12:30:00",
        duration_minutes=90,
        rrule="FREQ=WEEKLY;COUNT=1;BYDAY=TU",
        credits=[
            {"type": "AMA_PRA_1", "max": 1.5},
            {"type": "DPC_HOURS", "max": 1.5},
            {"type": "SMC_HOURS", "max": 2},
        ],
        dpc_action_ref="99992625001",
        council_accreditation_ref="MMC/MAC/2026/C-012345",
    )
    (first,) = await occurrences(client, auth, series["id"])
    created: dict[str, dict[str, Any]] = {}
    for number, (key, (first_name, last_name, lang, rpps, council)) in enumerate(PEOPLE.items()):
        created[key] = await create_physician(
            client,
            auth,
            first_name=first_name,
            last_name=last_name,
            email=f"p{number}@example.org",
            language=lang,
            npi=None,
            rpps=rpps,
            board_ids={"MMC": council},
        )
    events = [
        {
            "event_id": f"{kind}-{p['id']}",
            "occurrence_id": first["id"],
            "physician_id": p["id"],
            "kind": kind,
            "at": at,
        }
        for p in created.values()
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", "2026-12-01T13:00:00Z"))
    ]
    ctx = dataclasses.replace(job_context(database, scheduler), mail=client.app[MAIL])
    with time_machine.travel(datetime(2026, 12, 1, 13, 10, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    with time_machine.travel(datetime(2026, 12, 1, 14, 35, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)
    return first["id"], created


async def _pdf(client: TestClient, occurrence_id: int, physician: dict[str, Any]) -> bytes:
    response = await client.get(
        f"/api/me/certificates/{occurrence_id}.pdf", headers=bearer(physician["token"])
    )
    assert (response.status, response.content_type) == (200, "application/pdf")
    return await response.read()


def _prose(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


async def test_each_regime_prints_its_fields_in_the_physicians_language(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, people = await _certified(client, auth, database, scheduler)

    french = pdftotext(await _pdf(client, occurrence_id, people["fr"]))
    english = pdftotext(await _pdf(client, occurrence_id, people["en"]))

    assert [
        "AMA PRA Category 1 Credit™ (ACCME)",
        f"Organisme{NBSP}: Institut du Numérique en Santé",
        f"Intitulé de l’activité{NBSP}: {TITLE}",
        f"Format{NBSP}: activité en direct (live activity)",
        f"Date{NBSP}: mardi 1er décembre 2026",
        f"Crédits obtenus{NBSP}: 1,5 AMA PRA Category 1 Credit(s)™",
        "Développement professionnel continu (DPC)",
        f"N° RPPS du participant{NBSP}: 10003456789",
        f"Organisme de DPC{NBSP}: Institut Numérique Œuvre de Santé (n° ODPC 9999)",
        f"Référence de l’action{NBSP}: 99992625001",
        f"Durée{NBSP}: 1 h 30",
        f"Format{NBSP}: classe virtuelle",
        "Conseil médical d’État (Inde)",
        f"Conseil{NBSP}: Maharashtra Medical Council",
        f"N° d’inscription du médecin{NBSP}: MMC-2001/02/1234",
        f"Référence d’accréditation du conseil{NBSP}: MMC/MAC/2026/C-012345",
        f"Heures de crédit attribuées{NBSP}: 2,0",
    ] == [line for line in french if line in _SECTION_LINES_FR]
    prose = _prose(french)
    assert (
        "Institut du Numérique en Santé désigne cette activité en direct pour un maximum de "
        "1,5 AMA PRA Category 1 Credit(s)™."
    ) in prose
    assert (
        "Institut du Numérique en Santé designates this live activity for a maximum of 1.5 "
        "AMA PRA Category 1 Credit(s)™. Physicians should claim only the credit commensurate "
        "with the extent of their participation in the activity."
    ) in prose
    assert "est accrédité par l’Accreditation Council for Continuing Medical Education" in prose

    assert {
        "AMA PRA Category 1 Credit™ (ACCME)",
        "Provider: Institut du Numérique en Santé",
        f"Activity title: {TITLE}",
        "Format: live activity",
        "Date: Tuesday 1 December 2026",
        "Credits awarded: 1.5 AMA PRA Category 1 Credit(s)™",
        "Continuing professional development (French DPC)",
        "DPC provider: Institut Numérique Œuvre de Santé (ODPC no. 9999)",
        "Action reference: 99992625001",
        "Duration: 1 h 30 min",
        "Format: virtual classroom (classe virtuelle)",
        "State Medical Council (India)",
        "Council: Maharashtra Medical Council",
        "Physician’s registration number: MMC-1999/7/42",
        "Council’s accreditation reference: MMC/MAC/2026/C-012345",
        "Credit hours allotted: 2.0",
        "Dr Søren Ñúñez-Łęcka",
    } <= set(english)
    assert [line for line in english if "RPPS" in line] == []  # none known: no empty field
    assert "is accredited by the Accreditation Council for Continuing Medical Education" in (
        _prose(english)
    )


_SECTION_LINES_FR = {
    "AMA PRA Category 1 Credit™ (ACCME)",
    "Développement professionnel continu (DPC)",
    "Conseil médical d’État (Inde)",
} | {
    line
    for line in (
        f"Organisme{NBSP}: Institut du Numérique en Santé",
        f"Intitulé de l’activité{NBSP}: {TITLE}",
        f"Format{NBSP}: activité en direct (live activity)",
        f"Date{NBSP}: mardi 1er décembre 2026",
        f"Crédits obtenus{NBSP}: 1,5 AMA PRA Category 1 Credit(s)™",
        f"N° RPPS du participant{NBSP}: 10003456789",
        f"Organisme de DPC{NBSP}: Institut Numérique Œuvre de Santé (n° ODPC 9999)",
        f"Référence de l’action{NBSP}: 99992625001",
        f"Durée{NBSP}: 1 h 30",
        f"Format{NBSP}: classe virtuelle",
        f"Conseil{NBSP}: Maharashtra Medical Council",
        f"N° d’inscription du médecin{NBSP}: MMC-2001/02/1234",
        f"Référence d’accréditation du conseil{NBSP}: MMC/MAC/2026/C-012345",
        f"Heures de crédit attribuées{NBSP}: 2,0",
    )
}


async def test_latin_names_and_titles_print_whole_in_embedded_open_sans(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, people = await _certified(client, auth, database, scheduler)

    for key, (first_name, last_name, *_rest) in PEOPLE.items():
        pdf = await _pdf(client, occurrence_id, people[key])
        lines = pdftotext(pdf)
        fonts = pdffonts(pdf)
        assert (key, f"{first_name} {last_name}" in lines) == (key, True)
        assert (key, TITLE in lines) == (key, True)
        assert (key, "Dr Søren Ñúñez-Łęcka" in lines) == (key, True)
        assert {f["name"].split("+")[-1] for f in fonts} == {"OpenSans-Regular", "OpenSans-Bold"}
        assert {(f["emb"], f["uni"]) for f in fonts} == {("yes", "yes")}


def _objects(credits: dict[str, float]) -> tuple[Certificate, Physician, Occurrence, Series]:
    start = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    series = Series(
        id=1,
        uid="u",
        slug="s",
        title="Les lundis",
        timezone="Europe/Paris",
        start_local=datetime(2026, 12, 1, 12, 30, tzinfo=UTC).replace(tzinfo=None),
        duration_minutes=60,
        join_url="https://zoom.us/j/1",
        credits=[{"type": code, "max": 1.0} for code in credits],
        horizon_end=start,
    )
    occurrence = Occurrence(
        id=1, series_id=1, recurrence_id=start, start=start, end=start.replace(hour=12)
    )
    physician = Physician(
        id=1,
        first_name="Jeanne",
        last_name="Durand",
        email="j@example.org",
        language="fr",
        rpps="10003456789",
        token_hash="x",
    )
    certificate = Certificate(
        code="C", occurrence_id=1, physician_id=1, minutes=60, credits=credits, issued_at=start
    )
    return certificate, physician, occurrence, series


REGIME_MAIL = MailSettings(
    base_url="https://cme.example.org",
    sender="w@example.org",
    provider="Institut",
    labels=CreditLabels({"AMA_PRA_1": "AMA PRA Category 1 Credit(s)™", "DPC_HOURS": "heures DPC"}),
    regimes={"AMA_PRA_1": "ama", "DPC_HOURS": "dpc", "SMC_HOURS": "smc"},
)


def test_a_dpc_only_certificate_carries_no_accme_statement_and_no_other_regime() -> None:
    data = certificate_data(*_objects({"DPC_HOURS": 1.0}), REGIME_MAIL)

    assert [section.heading for section in data.sections] == [
        "Développement professionnel continu (DPC)"
    ]
    assert (data.accreditation, data.statement) == ("", "")


def test_credit_types_without_a_regime_keep_the_plain_designation() -> None:
    data = certificate_data(*_objects({"AMA_PRA_1": 1.0, "ABIM_MOC": 1.0}), REGIME_MAIL)

    assert [section.heading for section in data.sections] == ["AMA PRA Category 1 Credit™ (ACCME)"]
    assert data.statement == "Cette session est validée pour 1,0 ABIM_MOC au maximum."
    assert data.accreditation == ""  # in the AMA section
    assert "ACCME" in data.sections[0].paragraphs[-1]


@pytest.mark.parametrize(
    ("hours", "french", "english"),
    [(1.5, "1 h 30", "1 h 30 min"), (2.0, "2 h", "2 h"), (0.25, "0 h 15", "0 h 15 min")],
)
def test_dpc_duration_is_written_in_hours_and_minutes(
    hours: float, french: str, english: str
) -> None:
    assert (duration(hours, "fr"), duration(hours, "en")) == (french, english)
