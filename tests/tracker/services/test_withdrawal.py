"""A corrected award that earns no credit withdraws the session's certificate, and a final
award whose certified figures change re-issues it: through the real app, its jobs and the real
SMTP server on loopback, on both engines.

Jeanne (French, Paris) attends one session, Tuesday 1 December 2026, 12:30 to 13:30 in Paris
(11:30 to 12:30 UTC); its credits are final at 14:05 UTC.
"""

from __future__ import annotations

import base64
import csv
import gzip
import html
import io
import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import jwt
import pytest
import time_machine
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
from tests.tracker.claims_world import build_claim_world, finalise, link_in
from tests.tracker.security_world import physician_session
from tests.tracker.services.test_email import to
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.credentials import status_position
from tracker.domain.models import Certificate
from tracker.jobs import plan_finalisations
from tracker.services.statements import send_statements
from tracker.settings import Settings

SENDER = "webinars@cme.example.org"
ZOOM_SECRET = "zoom-webhook-secret"
WEBINAR = "81234567890"
JEANNE = "jeanne.durand@example.org"
FINAL = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
LATE = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LATER = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
JSON = {"Accept": "application/json"}
FRENCH = {"Accept": "text/html", "Accept-Language": "fr"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}


async def _deliver(database: Database, smtp: SmtpServer) -> list[EmailMessage]:
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender=SENDER, rate_per_second=0
    )
    with time_machine.travel(LATER, tick=False):
        await worker.run_once()
    return [m for m in smtp.recorder.messages if to(m) == JEANNE]


async def _events(client: TestClient, auth: dict[str, str], at: datetime, *rows: Any) -> None:
    with time_machine.travel(at, tick=False):
        response = await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": e,
                    "occurrence_id": o,
                    "physician_id": p,
                    "kind": k,
                    "at": t,
                    "connection_id": c,
                }
                for e, o, p, k, t, c in rows
            ],
            headers=auth,
        )
    assert response.status == 202, await response.text()


async def _session(client: TestClient, auth: dict[str, str], **series: Any) -> tuple[int, dict]:
    created = await create_series(
        client, auth, start="2026-12-01T12:30:00", rrule=None, reminders=[], **series
    )
    jeanne = await create_physician(client, auth)
    (occurrence,) = await occurrences(client, auth, created["id"])
    return occurrence["id"], jeanne


async def _finalise(database: Database, scheduler: Any) -> None:
    with time_machine.travel(FINAL, tick=False):
        await plan_finalisations(job_context(database, scheduler))


async def _certificates(database: Database) -> list[Certificate]:
    async with database.session() as session:
        rows = await session.exec(select(Certificate).order_by(col(Certificate.version)))
        return list(rows.all())


async def _status_bit(client: TestClient, certificate_id: int) -> int:
    document = await (await client.get("/.well-known/did.json")).json()
    (method,) = document["verificationMethod"]
    key = jwt.PyJWK(method["publicKeyJwk"], algorithm="EdDSA")
    number, index = status_position(certificate_id)
    status_list = jwt.decode(
        await (await client.get(f"/credentials/status/{number}")).text(), key, ["EdDSA"]
    )
    encoded = status_list["credentialSubject"]["encodedList"][1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return (bits[index // 8] >> (7 - index % 8)) & 1


async def _export(client: TestClient, auth: dict[str, str]) -> list[dict[str, str]]:
    exported = await client.get("/api/exports/completions.csv", headers=auth)
    return list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))


async def _page(client: TestClient, path: str, headers: dict[str, str]) -> str:
    return html.unescape(await (await client.get(path, headers=headers)).text())


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def _late_cut_world(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp: SmtpServer,
) -> tuple[int, dict[str, Any], list[EmailMessage]]:
    """Jeanne joined 30 minutes early and left 59 minutes in (1.0 credit, certificate sent);
    a leave Zoom retried late says she left five minutes in: 5 minutes, no credit."""
    occurrence, jeanne = await _session(client, auth)
    j = jeanne["id"]
    await _events(
        client,
        auth,
        datetime(2026, 12, 1, 12, 40, tzinfo=UTC),
        ("j1", occurrence, j, "join", "2026-12-01T11:00:00Z", None),
        ("j2", occurrence, j, "leave", "2026-12-01T12:29:00Z", None),
    )
    await _finalise(database, scheduler)
    await _deliver(database, smtp)
    await _events(client, auth, LATE, ("j3", occurrence, j, "leave", "2026-12-01T11:35:00Z", None))
    return occurrence, jeanne, await _deliver(database, smtp)


async def test_late_event_cutting_the_credit_to_nothing_withdraws_the_certificate_everywhere(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence, jeanne, messages = await _late_cut_world(
        client, auth, database, scheduler, smtp_server
    )
    (certificate,) = await _certificates(database)
    token = bearer(jeanne["token"])

    check = await (await client.get(f"/certificates/{certificate.code}", headers=JSON)).json()
    french = await _page(client, f"/certificates/{certificate.code}", FRENCH)
    english = await _page(client, f"/certificates/{certificate.code}", ENGLISH)
    pdf = await client.get(f"/api/me/certificates/{occurrence}.pdf", headers=token)
    credential = await client.get(f"/api/me/certificates/{occurrence}.json", headers=token)
    summary = await (await client.get("/api/me/credits", headers=token)).json()

    assert (check["status"], check["valid"], check["withdrawn_reason"]) == (
        "withdrawn",
        False,
        "no_credit",
    )
    assert check["withdrawn_at"] is not None
    assert (check["minutes"], check["credits"]) == (59.0, {"AMA_PRA_1": 1.0})  # what it said
    assert "Cette attestation a été retirée le" in french
    assert "la présence corrigée ne donne aucun crédit" in french
    assert "was withdrawn" not in french and "<dd>Withdrawn</dd>" not in french
    assert "<dd>Retirée</dd>" in french
    assert "This certificate was withdrawn on" in english
    assert "This certificate is valid" not in english
    assert (pdf.status, credential.status) == (410, 410)
    assert await _status_bit(client, certificate.id or 0) == 1
    assert summary["totals"] in ({}, {"AMA_PRA_1": 0.0})
    assert await _export(client, auth) == []
    (withdrawal,) = [m for m in messages if "retirée" in str(m["Subject"])]
    assert str(withdrawal["Subject"]).startswith("Attestation retirée : ")
    assert "la présence corrigée ne donne aucun crédit" in _text(withdrawal)
    assert f"/certificates/{certificate.code}" in _text(withdrawal)
    assert len(messages) == 2  # the certificate, then its withdrawal; nothing else


async def test_withdrawn_certificate_shows_on_the_physicians_page_without_downloads(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence, jeanne, _ = await _late_cut_world(client, auth, database, scheduler, smtp_server)
    cookie, _ = await physician_session(client, jeanne["token"])

    french = await _page(client, "/me", {**FRENCH, "Cookie": cookie})
    english = await _page(client, "/me?lang=en", {**ENGLISH, "Cookie": cookie})

    assert "Retirée le" in french
    assert "ne donne aucun crédit" in french
    assert "Withdrawn on" in english
    assert f"/me/certificates/{occurrence}.pdf" not in french
    assert f"/me/certificates/{occurrence}.json" not in french


async def test_withdrawal_email_is_queued_once_per_certificate_version(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence, jeanne, _ = await _late_cut_world(client, auth, database, scheduler, smtp_server)

    await _finalise(database, scheduler)  # the planner again: nothing new to say
    await _events(  # another fact that changes nothing about the credit
        client, auth, LATE, ("j4", occurrence, jeanne["id"], "leave", "2026-12-01T11:36:00Z", None)
    )

    async with database.session() as session:
        keys = (
            await session.exec(
                select(OutboxMessage.key).where(OutboxMessage.kind == "certificate-withdrawn")
            )
        ).all()
    assert keys == [f"certificate-withdrawn:{occurrence}:{jeanne['id']}:v1"]


async def test_credit_coming_back_issues_a_new_certificate_that_the_withdrawn_one_names(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence, jeanne, _ = await _late_cut_world(client, auth, database, scheduler, smtp_server)

    await _events(  # she rejoined from her phone at 12:40 Paris time, until the end
        client,
        auth,
        LATE,
        ("j5", occurrence, jeanne["id"], "join", "2026-12-01T11:40:00Z", "phone"),
    )
    messages = await _deliver(database, smtp_server)

    old, new = await _certificates(database)
    check = await (await client.get(f"/certificates/{old.code}", headers=JSON)).json()
    fresh = await (await client.get(f"/certificates/{new.code}", headers=JSON)).json()
    pdf = await client.get(
        f"/api/me/certificates/{occurrence}.pdf", headers=bearer(jeanne["token"])
    )
    assert (check["status"], check["superseded_by"]) == ("superseded", new.code)
    assert check["withdrawn_at"] is not None
    assert (fresh["status"], fresh["minutes"], fresh["credits"]) == (
        "valid",
        55.0,
        {"AMA_PRA_1": 1.0},
    )
    assert pdf.status == 200
    assert str(messages[-1]["Subject"]).startswith("Attestation mise à jour")


async def test_claim_capped_below_the_minimum_counts_nothing_and_withdraws_the_certificate(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Jeanne claimed 45.5 of her 60 minutes (0.75); a late leave makes her attendance 20
    minutes, below the series' 50 % minimum: the claim, capped at 20 minutes, earns nothing."""
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)
    (invitation,) = [
        m for m in await _deliver(database, smtp_server) if "demandez" in str(m["Subject"])
    ]
    scale, yes_no, _ = world.question_ids
    with time_machine.travel(LATE, tick=False):
        done = await client.post(
            link_in(invitation)[0],
            data={"minutes": "45,5", "attest": "yes", f"q{scale}": "4", f"q{yes_no}": "yes"},
        )
        assert done.status == 200, await done.text()
    await _deliver(database, smtp_server)
    (claimed,) = await _certificates(database)

    j, o = world.jeanne["id"], world.occurrence_id
    await _events(client, auth, LATE, ("late", o, j, "leave", "2026-12-01T11:50:00Z", None))
    messages = await _deliver(database, smtp_server)

    summary = await (
        await client.get("/api/me/credits", headers=bearer(world.jeanne["token"]))
    ).json()
    (award,) = summary["awards"]
    listed = await (await client.get(f"/api/occurrences/{o}/attendance", headers=auth)).json()
    by_email = {a["email"]: a for a in listed["items"]}
    check = await (await client.get(f"/certificates/{claimed.code}", headers=JSON)).json()
    assert (award["minutes"], award["claim"]) == (20.0, "claimed")
    assert not any(award["credits"].values())
    assert summary["totals"].get("AMA_PRA_1", 0) == 0
    assert not any(by_email[JEANNE]["credits"].values())
    assert (check["status"], check["withdrawn_reason"]) == ("withdrawn", "no_credit")
    assert JEANNE not in [r["email"] for r in await _export(client, auth)]
    assert any(str(m["Subject"]).startswith("Attestation retirée") for m in messages)


async def test_claim_capped_above_the_minimum_counts_the_capped_minutes_everywhere(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Jeanne claimed 55 of her 60 minutes (1.0); late data makes it 40 minutes: the claim
    counts 40 minutes, 0.75 credit, in the summary, the attendance, the export and a
    re-issued certificate."""
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)
    (invitation,) = [
        m for m in await _deliver(database, smtp_server) if "demandez" in str(m["Subject"])
    ]
    scale, yes_no, _ = world.question_ids
    with time_machine.travel(LATE, tick=False):
        done = await client.post(
            link_in(invitation)[0],
            data={"minutes": "55", "attest": "yes", f"q{scale}": "4", f"q{yes_no}": "yes"},
        )
        assert done.status == 200, await done.text()
    j, o = world.jeanne["id"], world.occurrence_id
    await _events(client, auth, LATE, ("late", o, j, "leave", "2026-12-01T12:10:00Z", None))

    summary = await (
        await client.get("/api/me/credits", headers=bearer(world.jeanne["token"]))
    ).json()
    listed = await (await client.get(f"/api/occurrences/{o}/attendance", headers=auth)).json()
    by_email = {a["email"]: a for a in listed["items"]}
    exported = {r["email"]: r for r in await _export(client, auth)}
    stored = [(c.version, c.minutes, c.credits) for c in await _certificates(database)]
    assert summary["totals"] == {"AMA_PRA_1": 0.75}
    assert by_email[JEANNE]["credits"] == {"AMA_PRA_1": 0.75}
    assert exported[JEANNE]["AMA_PRA_1"] == "0.75"
    assert stored == [(1, 55.0, {"AMA_PRA_1": 1.0}), (2, 40.0, {"AMA_PRA_1": 0.75})]


async def test_cancelled_session_awards_no_credit_and_no_certificate_until_restored(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    occurrence, jeanne = await _session(client, auth)
    await _events(
        client,
        auth,
        datetime(2026, 12, 1, 12, 40, tzinfo=UTC),
        ("j1", occurrence, jeanne["id"], "join", "2026-12-01T11:30:00Z", None),
        ("j2", occurrence, jeanne["id"], "leave", "2026-12-01T12:25:00Z", None),
    )
    with time_machine.travel(datetime(2026, 12, 1, 12, 45, tzinfo=UTC), tick=False):
        cancelled = await client.patch(
            f"/api/occurrences/{occurrence}", json={"status": "cancelled"}, headers=auth
        )
    assert cancelled.status == 200, await cancelled.text()
    await _finalise(database, scheduler)
    messages = await _deliver(database, smtp_server)
    summary = await (await client.get("/api/me/credits", headers=bearer(jeanne["token"]))).json()

    cookie, _ = await physician_session(client, jeanne["token"])
    page = await _page(client, "/me", {**FRENCH, "Cookie": cookie})
    receipt = await _page(client, f"/me/receipts/{occurrence}", {**FRENCH, "Cookie": cookie})
    statements = await send_statements(
        database, job_context(database, scheduler).mail, "2026-12", now=LATER
    )

    assert await _certificates(database) == []
    assert [m for m in messages if "attestation" in str(m["Subject"]).lower()] == []
    assert summary["awards"][0]["cancelled"] is True
    assert "Session annulée : une session annulée n'atteste aucun crédit" in page
    assert "Cette session a été annulée : une session annulée n'atteste aucun crédit" in receipt
    assert statements == (0, 0)  # her only session of the month was cancelled
    assert not any(summary["awards"][0]["credits"].values())
    assert summary["totals"].get("AMA_PRA_1", 0) == 0
    assert await _export(client, auth) == []

    with time_machine.travel(LATE, tick=False):
        restored = await client.patch(
            f"/api/occurrences/{occurrence}", json={"status": "scheduled"}, headers=auth
        )
    assert restored.status == 200, await restored.text()
    messages = await _deliver(database, smtp_server)
    summary = await (await client.get("/api/me/credits", headers=bearer(jeanne["token"]))).json()

    (certificate,) = await _certificates(database)
    assert (certificate.minutes, certificate.credits) == (55.0, {"AMA_PRA_1": 1.0})
    assert summary["totals"] == {"AMA_PRA_1": 1.0}
    assert str(messages[-1]["Subject"]).startswith("Votre attestation")  # not "mise à jour"


async def test_minutes_changing_with_the_same_credit_reissue_the_certificate(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """45 minutes (0.75) final and certified; a late stay of five minutes from a phone makes
    50 minutes, still 0.75: the certificate, which prints the minutes, is re-issued."""
    occurrence, jeanne = await _session(client, auth)
    j = jeanne["id"]
    await _events(
        client,
        auth,
        datetime(2026, 12, 1, 12, 40, tzinfo=UTC),
        ("j1", occurrence, j, "join", "2026-12-01T11:30:00Z", None),
        ("j2", occurrence, j, "leave", "2026-12-01T12:15:00Z", None),
    )
    await _finalise(database, scheduler)
    await _events(
        client,
        auth,
        LATE,
        ("j3", occurrence, j, "join", "2026-12-01T12:20:00Z", "phone"),
        ("j4", occurrence, j, "leave", "2026-12-01T12:25:00Z", "phone"),
    )

    old, new = await _certificates(database)
    check = await (await client.get(f"/certificates/{old.code}", headers=JSON)).json()
    exported = await _export(client, auth)
    assert [(c.version, c.minutes, c.credits) for c in (old, new)] == [
        (1, 45.0, {"AMA_PRA_1": 0.75}),
        (2, 50.0, {"AMA_PRA_1": 0.75}),
    ]
    assert (check["status"], check["superseded_by"]) == ("superseded", new.code)
    assert [r["AMA_PRA_1"] for r in exported] == ["0.75"]


@pytest.fixture
async def zoom_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    """The app with a Zoom webhook secret (no Zoom account: webhooks only)."""
    configured = settings.model_copy(update={"zoom_webhook_secret": SecretStr(ZOOM_SECRET)})
    return await aiohttp_client(create_app(configured))  # type: ignore[no-any-return]


async def _zoom(client: TestClient, at: datetime, joined: bool, when: str) -> None:
    """One signed participant event of Jeanne's connection, delivered at ``at``."""
    field = "join_time" if joined else "leave_time"
    payload = {
        "event": f"webinar.participant_{'joined' if joined else 'left'}",
        "event_ts": int(at.timestamp() * 1000),
        "payload": {
            "account_id": "acct",
            "object": {
                "id": WEBINAR,
                "uuid": "instance-1",
                "participant": {
                    "user_id": "16778240",
                    "participant_uuid": "uuid-jeanne",
                    "user_name": "Jeanne Durand",
                    "email": JEANNE,
                    field: when,
                },
            },
        },
    }
    body = json.dumps(payload).encode()
    with time_machine.travel(at, tick=False):
        stamp = str(int(time.time()))
        response = await client.post(
            "/webhooks/zoom",
            data=body,
            headers={
                "x-zm-request-timestamp": stamp,
                "x-zm-signature": sign(ZOOM_SECRET, stamp, body),
                "Content-Type": "application/json",
            },
        )
    assert response.status == 200, await response.text()


async def test_late_zoom_leave_below_the_minimum_withdraws_the_certificate(
    zoom_client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Zoom says Jeanne joined and never left (60 minutes, a certificate); its retried
    participant_left says she left 20 minutes in, under the series' 50 % minimum."""
    occurrence, jeanne = await _session(zoom_client, auth, min_attendance_percent=50)
    await _zoom(
        zoom_client, datetime(2026, 12, 1, 11, 30, 5, tzinfo=UTC), True, "2026-12-01T11:30:00Z"
    )
    await _finalise(database, scheduler)
    (certificate,) = await _certificates(database)

    await _zoom(zoom_client, LATE, False, "2026-12-01T11:50:00Z")
    # the webhook answers before projecting (a process with a projector computes the award,
    # and withdraws in the same pass); this process runs none: a reader settles it
    summary = await (
        await zoom_client.get("/api/me/credits", headers=bearer(jeanne["token"]))
    ).json()
    messages = await _deliver(database, smtp_server)

    check = await (await zoom_client.get(f"/certificates/{certificate.code}", headers=JSON)).json()
    assert (certificate.minutes, certificate.credits) == (60.0, {"AMA_PRA_1": 1.0})
    assert (check["status"], check["valid"], check["withdrawn_reason"]) == (
        "withdrawn",
        False,
        "no_credit",
    )
    assert await _status_bit(zoom_client, certificate.id or 0) == 1
    assert [str(m["Subject"]).split(" :")[0] for m in messages] == [
        "Votre attestation",
        "Attestation retirée",
    ]
    assert [c.code for c in await _certificates(database)] == [certificate.code]  # no new one
    assert summary["awards"][0]["occurrence_id"] == occurrence
    assert (summary["awards"][0]["minutes"], summary["totals"].get("AMA_PRA_1", 0)) == (20.0, 0)
