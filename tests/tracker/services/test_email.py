"""Every kind of email, through the outbox, to a real SMTP server on loopback.

Time is moved with time-machine; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import io
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar
from pypdf import PdfReader
from sqlmodel import select

from notifications.models import OutboxMessage
from notifications.outbox import claim
from notifications.transports import MaildirTransport, SmtpTransport
from notifications.worker import DeliveryWorker
from schedules.models import Occurrence, Series
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer, free_port
from tracker.db import Database
from tracker.domain.mailings import enqueue_reminders
from tracker.jobs import plan_finalisations, plan_reminders
from tracker.services.statements import send_statements

SENDER = "webinars@cme.example.org"
FIRST_START = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)  # 12:30 in Paris

JSON = {"Accept": "application/json"}  # the certificate check as JSON, not its page


def worker(database: Database, smtp: SmtpServer) -> DeliveryWorker:
    return DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender=SENDER, rate_per_second=0
    )


LATER = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)  # after everything these tests queue


async def deliver(database: Database, smtp: SmtpServer, at: datetime = LATER) -> int:
    with time_machine.travel(at, tick=False):
        return await worker(database, smtp).run_once()


async def _world(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=3;BYDAY=TU",
        reminders=["P1D", "PT1H"],
        min_attendance_percent=None,
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
    zoe = await create_physician(
        client, auth, first_name="Zoé", last_name="Roux", email="zoe@example.org", npi=None
    )
    for physician in (jeanne, paul):
        await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
    first, second, third = await occurrences(client, auth, series["id"])
    series = await (await client.get(f"/api/series/{series['id']}", headers=auth)).json()
    return {
        "series": series,
        "jeanne": jeanne,
        "paul": paul,
        "zoe": zoe,
        "occurrences": (first, second, third),
    }


def to(message: EmailMessage) -> str:
    """The one address a message is for (its ``To`` also names the physician)."""
    (address,) = message["To"].addresses
    return str(address.addr_spec)


def calendar_of(message: EmailMessage) -> tuple[str, Calendar]:
    """The ``text/calendar`` alternative's METHOD parameter, and the attached invite parsed."""
    alternative = next(
        part for part in message.walk() if part.get_content_type() == "text/calendar"
    )
    attachment = next(
        part for part in message.iter_attachments() if part.get_filename() == "invite.ics"
    )
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(alternative.get_param("method")), Calendar.from_ical(payload)


def pdf_text(message: EmailMessage) -> str:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(payload)).pages)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


async def _outbox(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())  # type: ignore[arg-type]


async def test_reminders_go_to_registered_physicians_with_an_invitation(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)  # first run: nothing missed, jobs planned
    planned = {job.id: job.trigger.run_date for job in scheduler.get_jobs()}
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    first = w["occurrences"][0]
    assert planned == {
        f"reminder-{first['id']}-P1D": datetime(2026, 11, 30, 11, 30, tzinfo=UTC),
        f"reminder-{first['id']}-PT1H": datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
    }
    messages = {to(m): m for m in smtp_server.recorder.messages}
    assert set(messages) == {"jeanne.durand@example.org", "paul@example.org"}
    french, english = messages["jeanne.durand@example.org"], messages["paul@example.org"]
    assert (
        str(french["Subject"])
        == "Rappel : Les lundis de la santé numérique, le mardi 1er décembre 2026 à 12:30"
    )
    assert (
        "commence le mardi 1er décembre 2026 à 12:30 (heure de Paris)"
        in french.get_body(("plain",)).get_content()
    )
    assert (
        "starts on Tuesday 1 December 2026 at 06:30 (New York time)"
        in english.get_body(("plain",)).get_content()
    )
    assert (
        english.get_body(("html",)).get_content().count('href="https://zoom.us/j/81234567890"') == 1
    )
    assert str(french["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert (
        str(french["List-Unsubscribe"]).strip().startswith("<https://cme.example.org/unsubscribe/")
    )
    method, invite = calendar_of(french)
    (event,) = invite.walk("VEVENT")
    assert (method, str(invite["METHOD"]), str(event["UID"])) == (
        "REQUEST",
        "REQUEST",
        w["series"]["uid"],
    )
    assert (event["RECURRENCE-ID"].dt, event.start, event["SEQUENCE"]) == (  # type: ignore[attr-defined]  # walk() types Events as Component
        FIRST_START,
        FIRST_START,
        first["sequence"],
    )
    assert smtp_server.recorder.envelopes[0][0] == SENDER


async def test_asking_twice_enqueues_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _world(client, auth)
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()
        await worker(database, smtp_server).run_once()

    assert len(smtp_server.recorder.messages) == 2
    assert len(await _outbox(database)) == 2


async def test_one_click_unsubscribe_stops_reminders_for_that_series(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _one_message(client, auth, database, scheduler)
    await deliver(database, smtp_server, at=datetime(2026, 11, 30, 11, 31, tzinfo=UTC))
    ctx = job_context(database, scheduler)
    header = next(m for m in smtp_server.recorder.messages if to(m) == "paul@example.org")
    link = str(header["List-Unsubscribe"]).strip()

    page = await client.get(link.strip("<>").removeprefix("https://cme.example.org"))
    response = await client.post(
        link.strip("<>").removeprefix("https://cme.example.org"),
        data={"List-Unsubscribe": "One-Click"},
    )
    with time_machine.travel(datetime(2026, 12, 1, 10, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    assert (page.status, response.status) == (200, 200)
    later = [to(m) for m in smtp_server.recorder.messages[2:]]
    assert later == ["jeanne.durand@example.org"]


async def test_after_unsubscribing_a_cancellation_still_reaches_a_calendar_holding_the_session(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Paul stopped reminders after the one that put 1 December's session in his calendar: its
    cancellation still reaches him (else his calendar keeps a session that will not take
    place); 8 December's, never sent to him, does not."""
    await _one_message(client, auth, database, scheduler)
    await deliver(database, smtp_server, at=datetime(2026, 11, 30, 11, 31, tzinfo=UTC))
    header = next(m for m in smtp_server.recorder.messages if to(m) == "paul@example.org")
    link = str(header["List-Unsubscribe"]).strip().strip("<>")
    await client.post(
        link.removeprefix("https://cme.example.org"), data={"List-Unsubscribe": "One-Click"}
    )
    first, second, _ = await occurrences(client, auth, (await _series_id(client, auth)))
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        for occurrence in (first, second):
            cancelled = await client.patch(
                f"/api/occurrences/{occurrence['id']}", json={"status": "cancelled"}, headers=auth
            )
            assert cancelled.status == 200, await cancelled.text()
        await worker(database, smtp_server).run_once()

    notices = [
        (to(m), str(calendar_of(m)[1].walk("VEVENT")[0]["DTSTART"].dt.date()))
        for m in smtp_server.recorder.messages[2:]
    ]
    assert sorted(notices) == [
        ("jeanne.durand@example.org", "2026-12-01"),
        ("jeanne.durand@example.org", "2026-12-08"),
        ("paul@example.org", "2026-12-01"),
    ]


async def _series_id(client: TestClient, auth: dict[str, str]) -> int:
    listed = await (await client.get("/api/series", headers=auth)).json()
    return int(listed["items"][0]["id"])


async def test_reminder_missed_while_down_is_sent_if_the_session_has_not_started(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _world(client, auth)
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 29, 9, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)  # the service then goes down for two days
    with time_machine.travel(datetime(2026, 12, 1, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    rows = await _outbox(database)
    assert sorted((row.key.split(":")[3], row.status) for row in rows) == [
        ("P1D", "sent"),
        ("P1D", "sent"),
        ("PT1H", "sent"),
        ("PT1H", "sent"),
    ]


async def test_reminder_missed_after_the_session_started_is_skipped_and_recorded(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _world(client, auth)
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 29, 9, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 12, 1, 11, 45, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    skipped = (
        await (await client.get("/api/outbox", params={"status": "skipped"}, headers=auth)).json()
    )["items"]
    assert smtp_server.recorder.messages == []
    assert len(skipped) == 4
    assert {row["last_error"] for row in skipped} == {
        "the session had started when this reminder came due"
    }


async def test_moving_an_occurrence_moves_its_reminders_and_sends_an_update(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    first = w["occurrences"][0]
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        response = await client.patch(
            f"/api/occurrences/{first['id']}", json={"start": "2026-12-03T18:00:00"}, headers=auth
        )
        moved = await response.json()
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    jobs = {job.id: job.trigger.run_date for job in scheduler.get_jobs()}
    with time_machine.travel(datetime(2026, 12, 2, 16, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    later = {job.id: job.trigger.run_date for job in scheduler.get_jobs()}
    assert f"reminder-{first['id']}-P1D" not in jobs  # its old time went with the move
    assert later[f"reminder-{first['id']}-P1D"] == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    notices = [m for m in smtp_server.recorder.messages]
    assert sorted(to(m) for m in notices) == [
        "jeanne.durand@example.org",
        "paul@example.org",
    ]
    method, invite = calendar_of(notices[0])
    (event,) = invite.walk("VEVENT")
    assert (method, event.start, event["SEQUENCE"]) == (  # type: ignore[attr-defined]  # walk() types Events as Component
        "REQUEST",
        datetime(2026, 12, 3, 17, 0, tzinfo=UTC),
        moved["sequence"],
    )
    assert moved["sequence"] > first["sequence"]


async def test_cancelling_sends_a_cancel_to_registered_physicians_only_and_drops_reminders(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    second = w["occurrences"][1]
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await client.patch(
            f"/api/occurrences/{second['id']}", json={"status": "cancelled"}, headers=auth
        )
        await worker(database, smtp_server).run_once()
    with time_machine.travel(datetime(2026, 12, 7, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await worker(database, smtp_server).run_once()

    recipients = sorted(to(m) for m in smtp_server.recorder.messages)
    assert recipients == [
        "jeanne.durand@example.org",
        "paul@example.org",
    ]  # the two cancel notices, no reminder
    method, invite = calendar_of(smtp_server.recorder.messages[0])
    (event,) = invite.walk("VEVENT")
    assert (method, str(invite["METHOD"]), str(event["STATUS"])) == (
        "CANCEL",
        "CANCEL",
        "CANCELLED",
    )
    assert event["SEQUENCE"] > second["sequence"]


async def _attend_and_finalise(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any, w: dict[str, Any]
) -> None:
    first = w["occurrences"][0]
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "j1",
                    "occurrence_id": first["id"],
                    "physician_id": w["jeanne"]["id"],
                    "kind": "join",
                    "at": "2026-12-01T11:30:00Z",
                },
                {
                    "event_id": "j2",
                    "occurrence_id": first["id"],
                    "physician_id": w["jeanne"]["id"],
                    "kind": "leave",
                    "at": "2026-12-01T12:30:00Z",
                },
                {
                    "event_id": "z1",
                    "occurrence_id": first["id"],
                    "physician_id": w["zoe"]["id"],
                    "kind": "join",
                    "at": "2026-12-01T11:25:00Z",
                },
                {
                    "event_id": "z2",
                    "occurrence_id": first["id"],
                    "physician_id": w["zoe"]["id"],
                    "kind": "leave",
                    "at": "2026-12-01T12:00:00Z",
                },
            ],
            headers=auth,
        )
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))


async def test_certificate_after_final_credits_holds_the_figures_and_verifies(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    await _attend_and_finalise(client, auth, database, scheduler, w)
    await deliver(database, smtp_server)

    by_recipient = {to(m): m for m in smtp_server.recorder.messages}
    text = pdf_text(by_recipient["jeanne.durand@example.org"])
    code = text.split("Code de vérification : ")[1].split()[0]
    check = await (await client.get(f"/certificates/{code}", headers=JSON)).json()
    download = await client.get(
        f"/api/me/certificates/{w['occurrences'][0]['id']}.pdf",
        headers=bearer(w["jeanne"]["token"]),
    )
    theirs = await client.get(
        f"/api/me/certificates/{w['occurrences'][0]['id']}.pdf", headers=bearer(w["paul"]["token"])
    )

    assert set(by_recipient) == {
        "jeanne.durand@example.org",
        "zoe@example.org",
    }  # attendees with credit, registered or not
    assert "Jeanne Durand" in text and "NPI 1234567893" in text
    assert "Minutes de présence : 60 min" in text
    assert "1,0 AMA PRA Category 1 Credit(s)™" in text
    assert (
        "designates this live activity for a maximum of 1.0 AMA PRA Category 1 Credit(s)™"
        in " ".join(text.split())
    )
    assert "Minutes de présence : 30 min" in pdf_text(by_recipient["zoe@example.org"])
    assert (check["valid"], check["physician"], check["minutes"], check["credits"]) == (
        True,
        "Jeanne Durand",
        60.0,
        {"AMA_PRA_1": 1.0},
    )
    assert (download.status, download.content_type, (await download.read())[:5]) == (
        200,
        "application/pdf",
        b"%PDF-",
    )
    assert theirs.status == 404


async def test_a_certificate_keeps_the_name_it_was_issued_to_after_a_rename(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """An auditor compares the PDF a physician shows with the public check: a later rename of
    the physician's record changes neither, nor the PDF downloaded again, nor the credential."""
    w = await _world(client, auth)
    await _attend_and_finalise(client, auth, database, scheduler, w)
    await deliver(database, smtp_server)
    (emailed,) = [m for m in smtp_server.recorder.messages if to(m) == "jeanne.durand@example.org"]
    code = pdf_text(emailed).split("Code de vérification : ")[1].split()[0]

    renamed = await client.patch(
        f"/api/physicians/{w['jeanne']['id']}", json={"last_name": "Lefèvre"}, headers=auth
    )
    check = await (await client.get(f"/certificates/{code}", headers=JSON)).json()
    occurrence = w["occurrences"][0]["id"]
    mine = bearer(w["jeanne"]["token"])
    again = await (await client.get(f"/api/me/certificates/{occurrence}.pdf", headers=mine)).read()
    credential = await client.get(f"/api/me/certificates/{occurrence}.json", headers=mine)

    assert renamed.status == 200
    assert "Jeanne Durand" in pdf_text(emailed)
    assert check["physician"] == "Jeanne Durand"
    assert "Jeanne Durand" in "\n".join(
        p.extract_text() for p in PdfReader(io.BytesIO(again)).pages
    )
    jwt = (await credential.json())["id"].removeprefix("data:application/vc+jwt,")
    claims = base64.urlsafe_b64decode(jwt.split(".")[1] + "==").decode()
    assert "Jeanne Durand" in claims and "Lefèvre" not in claims


async def test_late_event_changing_final_credits_reissues_the_certificate(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    await _attend_and_finalise(client, auth, database, scheduler, w)
    first = w["occurrences"][0]
    with time_machine.travel(datetime(2026, 12, 1, 15, 0, tzinfo=UTC), tick=False):
        await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "j3",
                    "occurrence_id": first["id"],
                    "physician_id": w["jeanne"]["id"],
                    "kind": "leave",
                    "at": "2026-12-01T12:00:00Z",
                }
            ],
            headers=auth,
        )
    await deliver(database, smtp_server)

    jeanne = [m for m in smtp_server.recorder.messages if to(m) == "jeanne.durand@example.org"]
    old_code = pdf_text(jeanne[0]).split("Code de vérification : ")[1].split()[0]
    new_code = pdf_text(jeanne[1]).split("Code de vérification : ")[1].split()[0]
    old = await (await client.get(f"/certificates/{old_code}", headers=JSON)).json()
    assert len(jeanne) == 2
    assert str(jeanne[1]["Subject"]).startswith("Attestation mise à jour")
    assert "Minutes de présence : 30 min" in pdf_text(jeanne[1])
    assert (old["valid"], old["superseded_by"]) == (False, new_code)


async def test_monthly_statement_has_totals_and_a_pdf(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth)
    await _attend_and_finalise(client, auth, database, scheduler, w)
    await client.post(
        f"/api/physicians/{w['jeanne']['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 50, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    ctx = job_context(database, scheduler)
    queued, total = await send_statements(
        database, ctx.mail, "2026-12", now=datetime(2027, 1, 1, 6, 5, tzinfo=UTC)
    )
    again, _ = await send_statements(
        database, ctx.mail, "2026-12", now=datetime(2027, 1, 1, 6, 6, tzinfo=UTC)
    )
    await deliver(database, smtp_server)

    statements = [m for m in smtp_server.recorder.messages if "relevé" in str(m["Subject"]).lower()]
    (statement,) = [m for m in statements if to(m) == "jeanne.durand@example.org"]
    text = pdf_text(statement)
    assert (queued, total, again) == (2, 2, 0)
    assert "Relevé de formation : décembre 2026" in text
    assert "1,0 AMA PRA Category 1 Credit(s)™" in text
    assert "1,0 sur 50,0" in text
    assert "- AMA PRA Category 1 Credit(s)™ : 1" in statement.get_body(("plain",)).get_content()


async def test_a_monthly_statement_shows_progress_as_of_the_end_of_its_month(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """December's statement, sent on 6 January, counts December's credits toward the
    requirement, not those of a January session already final when it is composed."""
    series = await create_series(
        client,
        auth,
        start="2026-12-29T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=TU",
        min_attendance_percent=None,
    )
    jeanne = await create_physician(client, auth)
    december, january = await occurrences(client, auth, series["id"])
    await client.post(
        f"/api/physicians/{jeanne['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 50, "from": "2026-01-01", "to": "2027-12-31"},
        headers=auth,
    )
    with time_machine.travel(datetime(2027, 1, 5, 14, 0, tzinfo=UTC), tick=False):
        for n, occurrence in enumerate((december, january)):
            response = await client.post(
                "/api/attendance-events",
                json=[
                    {
                        "event_id": f"{kind}{n}",
                        "occurrence_id": occurrence["id"],
                        "physician_id": jeanne["id"],
                        "kind": kind,
                        "at": at,
                    }
                    for kind, at in (("join", occurrence["start"]), ("leave", occurrence["end"]))
                ],
                headers=auth,
            )
            assert response.status == 202, await response.text()
    with time_machine.travel(datetime(2027, 1, 5, 15, 35, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))
    ctx = job_context(database, scheduler)

    await send_statements(database, ctx.mail, "2026-12", now=datetime(2027, 1, 6, 6, 5, tzinfo=UTC))
    await deliver(database, smtp_server, at=datetime(2027, 1, 6, 6, 6, tzinfo=UTC))

    (statement,) = [
        m for m in smtp_server.recorder.messages if "relevé" in str(m["Subject"]).lower()
    ]
    text = pdf_text(statement)
    assert "Relevé de formation : décembre 2026" in text
    assert "1,0 sur 50,0" in text
    assert "1,0 sur 50,0" in statement.get_body(("plain",)).get_content()


async def _one_message(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    await _world(client, auth)
    ctx = job_context(database, scheduler)
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)


async def test_temporary_failure_is_retried_with_backoff_and_keeps_its_message_id(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _one_message(client, auth, database, scheduler)
    smtp_server.recorder.replies = ["421 4.3.0 Try again later", "421 4.3.0 Try again later"]
    stored = {row.key: row.message_id for row in await _outbox(database)}

    with time_machine.travel(datetime(2026, 11, 30, 11, 32, tzinfo=UTC), tick=False):
        await worker(database, smtp_server).run_once()
        waiting = await _outbox(database)
        await worker(database, smtp_server).run_once()  # not due yet: nothing happens
    with time_machine.travel(datetime(2026, 11, 30, 11, 34, tzinfo=UTC), tick=False):
        await worker(database, smtp_server).run_once()

    assert {(row.status, row.attempts, row.last_error) for row in waiting} == {
        ("pending", 1, "421 4.3.0 Try again later")
    }
    assert {row.next_attempt_at for row in waiting} == {datetime(2026, 11, 30, 11, 33, tzinfo=UTC)}
    assert sorted(smtp_server.recorder.message_ids()) == sorted(stored.values())
    assert {row.status for row in await _outbox(database)} == {"sent"}


async def test_permanent_failure_is_marked_failed_shown_and_can_be_retried(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _one_message(client, auth, database, scheduler)
    smtp_server.recorder.replies = ["550 5.1.1 No such user"]

    await deliver(database, smtp_server)
    failed = (
        await (await client.get("/api/outbox", params={"status": "failed"}, headers=auth)).json()
    )["items"]
    retried = await client.post(f"/api/outbox/{failed[0]['id']}/retry", headers=auth)
    await deliver(database, smtp_server)

    assert [(row["status"], row["last_error"]) for row in failed] == [
        ("failed", "550 5.1.1 No such user")
    ]
    assert (await retried.json())["status"] == "pending"
    assert len(smtp_server.recorder.messages) == 2


async def test_refused_connection_is_temporary(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    await _one_message(client, auth, database, scheduler)
    closed = DeliveryWorker(
        database.session,
        SmtpTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2),
        sender=SENDER,
        rate_per_second=0,
    )

    with time_machine.travel(LATER, tick=False):
        await closed.run_once()

    rows = await _outbox(database)
    assert {row.status for row in rows} == {"pending"}
    assert all(
        "Connect" in (row.last_error or "") or "refused" in (row.last_error or "") for row in rows
    )


async def test_a_crash_mid_send_resends_after_the_lease_with_the_same_message_id(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _one_message(client, auth, database, scheduler)
    crash_time = datetime(2026, 11, 30, 11, 32, tzinfo=UTC)
    async with database.session() as session:
        claimed = await claim(session, now=crash_time)  # the process dies holding these rows

    with time_machine.travel(crash_time + timedelta(minutes=1), tick=False):
        await worker(database, smtp_server).run_once()
        during_lease = len(smtp_server.recorder.messages)
    with time_machine.travel(crash_time + timedelta(minutes=6), tick=False):
        await worker(database, smtp_server).run_once()

    assert (len(claimed), during_lease) == (2, 0)
    assert sorted(smtp_server.recorder.message_ids()) == sorted(row.message_id for row in claimed)


async def _queued_reminders(
    client: TestClient, auth: dict[str, str], database: Database, offsets: tuple[str, ...]
) -> list[OutboxMessage]:
    """The world's reminders at these offsets before each session, queued; the outbox after."""
    await _world(client, auth)
    ctx = job_context(database, None)
    async with database.session() as session:
        rows = (await session.exec(select(Occurrence, Series).join(Series))).all()
        for occurrence, series in rows:
            for offset in offsets:
                await enqueue_reminders(
                    session,
                    ctx.mail,
                    occurrence,
                    series,
                    offset,
                    now=datetime(2026, 11, 1, tzinfo=UTC),
                )
        await session.commit()
    return await _outbox(database)


async def test_two_workers_on_one_database_send_every_key_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    smtp_server: SmtpServer,
    settings: Any,
) -> None:
    expected = await _queued_reminders(
        client, auth, database, ("P1D", "PT1H", "PT2H", "PT3H", "PT4H")
    )
    other = Database(settings.database_url)
    try:
        first = worker(database, smtp_server)
        second = DeliveryWorker(
            other.session, SmtpTransport(smtp_server.url), sender=SENDER, rate_per_second=0
        )
        await asyncio.gather(first.run_once(), second.run_once(), first.run_once())
    finally:
        await other.close()

    ids = smtp_server.recorder.message_ids()
    assert len(expected) == 30
    assert sorted(ids) == sorted(row.message_id for row in expected)  # each exactly once


class _WatchedSmtp(SmtpTransport):
    """The real transport, noting when a round's close came while a message was being sent."""

    sending = 0
    closed_mid_send = 0
    began: asyncio.Event | None = None  # set when a first message is being sent

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        self.sending += 1
        if self.began is not None:
            self.began.set()
        try:
            await super().send(raw, sender=sender, recipient=recipient)
        finally:
            self.sending -= 1

    async def close(self) -> None:
        self.closed_mid_send += self.sending > 0
        await super().close()


async def test_rounds_of_one_worker_take_turns_on_its_connection(
    client: TestClient, auth: dict[str, str], database: Database, smtp_server: SmtpServer
) -> None:
    """Two rounds of one worker at once (a poke during a round, say): the second waits for the
    first, so that the first's close never cuts off a message of the second."""
    expected = await _queued_reminders(client, auth, database, ("P1D", "PT1H", "PT2H"))
    transport = _WatchedSmtp(smtp_server.url)
    transport.began = asyncio.Event()
    one = DeliveryWorker(database.session, transport, sender=SENDER, rate_per_second=0)

    first = asyncio.create_task(one.run_once())
    await transport.began.wait()  # the first round is sending what it claimed
    await asyncio.gather(first, one.run_once())

    assert transport.closed_mid_send == 0
    assert sorted(smtp_server.recorder.message_ids()) == sorted(r.message_id for r in expected)


async def test_maildir_transport_writes_one_file_per_message(tmp_path: Any) -> None:
    transport = MaildirTransport(tmp_path / "mail")

    await transport.send(b"Subject: hi\r\n\r\nbody\r\n", sender=SENDER, recipient="a@example.org")

    assert [path.read_bytes() for path in (tmp_path / "mail" / "new").iterdir()] == [
        b"Subject: hi\r\n\r\nbody\r\n"
    ]


@pytest.mark.parametrize("status", ["nope"])
async def test_outbox_refuses_an_unknown_status_filter(
    client: TestClient, auth: dict[str, str], status: str
) -> None:
    response = await client.get("/api/outbox", params={"status": status}, headers=auth)

    assert response.status == 400


async def test_a_stopping_worker_hands_back_the_rows_it_has_not_sent(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    await _one_message(client, auth, database, scheduler)
    stopping = worker(database, smtp_server)
    stopping.stop()

    handled = await deliver_with(stopping)
    rows = await _outbox(database)

    assert handled == 0
    assert {(row.status, row.attempts, row.claimed_until) for row in rows} == {("pending", 0, None)}


async def deliver_with(chosen: DeliveryWorker) -> int:
    with time_machine.travel(LATER, tick=False):
        return await chosen.run_once()
