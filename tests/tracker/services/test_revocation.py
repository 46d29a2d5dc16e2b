"""An organiser revoking a certificate: the revocation stays in force and voids the session's
credit everywhere, through the real app, with the real SMTP server on loopback.

Jeanne attends two December sessions (60 minutes each, 1.0 AMA credit each); Zoé attends the
first for 35 minutes (0.5). The organiser revokes Jeanne's certificate of the first session.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tests.tracker.security_world import physician_session
from tests.tracker.services.test_email import pdf_text, to
from tracker.db import Database
from tracker.domain.models import Certificate
from tracker.jobs import plan_finalisations
from tracker.services.statements import send_statements

SENDER = "webinars@cme.example.org"
LATER = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)  # after everything these tests queue
JEANNE = "jeanne.durand@example.org"
FRENCH = {"Accept": "text/html", "Accept-Language": "fr"}
ENGLISH = {"Accept": "text/html", "Accept-Language": "en"}


async def _deliver(database: Database, smtp: SmtpServer) -> None:
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender=SENDER, rate_per_second=0
    )
    with time_machine.travel(LATER, tick=False):
        await worker.run_once()


async def _events(client: TestClient, auth: dict[str, str], at: datetime, *rows: Any) -> None:
    with time_machine.travel(at, tick=False):
        response = await client.post(
            "/api/attendance-events",
            json=[
                {"event_id": e, "occurrence_id": o, "physician_id": p, "kind": k, "at": t}
                for e, o, p, k, t in rows
            ],
            headers=auth,
        )
    assert response.status == 202, await response.text()


async def _world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> dict[str, Any]:
    """Both sessions attended and final, their certificates issued (not delivered yet)."""
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=3;BYDAY=TU",
        min_attendance_percent=None,
    )
    jeanne = await create_physician(client, auth)
    zoe = await create_physician(
        client, auth, first_name="Zoé", last_name="Roux", email="zoe@example.org", npi=None
    )
    first, second, _ = await occurrences(client, auth, series["id"])
    requirement = await client.post(
        f"/api/physicians/{jeanne['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 50, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    assert requirement.status == 200
    j, z, o1, o2 = jeanne["id"], zoe["id"], first["id"], second["id"]
    await _events(
        client,
        auth,
        datetime(2026, 12, 1, 12, 40, tzinfo=UTC),
        ("j1", o1, j, "join", "2026-12-01T11:30:00Z"),
        ("j2", o1, j, "leave", "2026-12-01T12:30:00Z"),
        ("z1", o1, z, "join", "2026-12-01T11:25:00Z"),
        ("z2", o1, z, "leave", "2026-12-01T12:05:00Z"),
    )
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))
    await _events(
        client,
        auth,
        datetime(2026, 12, 8, 12, 40, tzinfo=UTC),
        ("j3", o2, j, "join", "2026-12-08T11:30:00Z"),
        ("j4", o2, j, "leave", "2026-12-08T12:30:00Z"),
    )
    with time_machine.travel(datetime(2026, 12, 8, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))
    return {"jeanne": jeanne, "zoe": zoe, "first": o1, "second": o2}


async def _codes(database: Database, physician_id: int, occurrence_id: int) -> list[str]:
    async with database.session() as session:
        found = await session.exec(
            select(Certificate.code)
            .where(
                Certificate.physician_id == physician_id,
                Certificate.occurrence_id == occurrence_id,
            )
            .order_by(col(Certificate.version))
        )
        return list(found.all())


async def _page(client: TestClient, path: str, headers: dict[str, str]) -> str:
    """A page's text as a reader sees it (entities decoded)."""
    return html.unescape(await (await client.get(path, headers=headers)).text())


async def _revoke(client: TestClient, auth: dict[str, str], code: str) -> None:
    response = await client.post(
        f"/api/certificates/{code}/revocation", json={"reason": "attendance disputed"}, headers=auth
    )
    assert (response.status, (await response.json())["status"]) == (200, "revoked")


async def _late_leave(client: TestClient, auth: dict[str, str], w: dict[str, Any]) -> None:
    """A leave Zoom retried late: Jeanne left the first session at 12:00, 30 minutes in."""
    await _events(
        client,
        auth,
        datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        ("j5", w["first"], w["jeanne"]["id"], "leave", "2026-12-01T12:00:00Z"),
    )


async def test_late_event_after_a_revocation_issues_no_certificate_and_no_email(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth, database, scheduler)
    await _deliver(database, smtp_server)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)

    await _late_leave(client, auth, w)
    await _deliver(database, smtp_server)

    to_jeanne = [m for m in smtp_server.recorder.messages if to(m) == JEANNE]
    check = await (
        await client.get(f"/certificates/{code}", headers={"Accept": "application/json"})
    ).json()
    summary = await (
        await client.get("/api/me/credits", headers=bearer(w["jeanne"]["token"]))
    ).json()
    first = next(a for a in summary["awards"] if a["occurrence_id"] == w["first"])
    assert await _codes(database, w["jeanne"]["id"], w["first"]) == [code]
    assert len(to_jeanne) == 2  # the two certificates sent before the revocation, no third
    assert (check["status"], check["superseded_by"]) == ("revoked", None)
    assert (first["minutes"], first["credits"], first["final"]) == (30.0, {}, True)
    assert first["revoked_at"] == check["revoked_at"]


async def test_revoked_certificate_credits_count_in_no_total_or_requirement(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    before = await (
        await client.get("/api/me/credits", headers=bearer(w["jeanne"]["token"]))
    ).json()

    await _revoke(client, auth, code)

    mine = await (await client.get("/api/me/credits", headers=bearer(w["jeanne"]["token"]))).json()
    theirs = await (
        await client.get(f"/api/physicians/{w['jeanne']['id']}/credits", headers=auth)
    ).json()
    zoe = await (await client.get(f"/api/physicians/{w['zoe']['id']}/credits", headers=auth)).json()
    assert (before["totals"], before["requirements"][0]["earned"]) == ({"AMA_PRA_1": 2.0}, 2.0)
    for summary in (mine, theirs):
        assert (summary["totals"], summary["final_totals"]) == (
            {"AMA_PRA_1": 1.0},
            {"AMA_PRA_1": 1.0},
        )
        assert summary["requirements"][0]["earned"] == 1.0
        assert [(a["occurrence_id"], a["credits"]) for a in summary["awards"]] == [
            (w["first"], {}),
            (w["second"], {"AMA_PRA_1": 1.0}),
        ]
    assert zoe["totals"] == {"AMA_PRA_1": 0.5}  # another physician's certificate stands


async def test_revoked_certificate_is_left_out_of_the_monthly_statement(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)

    ctx = job_context(database, scheduler)
    await send_statements(database, ctx.mail, "2026-12", now=datetime(2027, 1, 1, 6, 5, tzinfo=UTC))
    await _deliver(database, smtp_server)

    (statement,) = [
        m
        for m in smtp_server.recorder.messages
        if to(m) == JEANNE and "relevé" in str(m["Subject"]).lower()
    ]
    text = pdf_text(statement)
    body = statement.get_body(("plain",)).get_content()
    assert "- AMA PRA Category 1 Credit(s)™ : 1" in body
    assert "1,0 sur 50,0" in text
    assert "2,0" not in text


async def test_revoked_certificate_has_no_line_in_the_completions_export(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)

    exported = await client.get("/api/exports/completions.csv", headers=auth)
    text = await client.get("/api/exports/completions.txt", headers=auth)

    table = list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    tab = list(csv.DictReader(io.StringIO(await text.text()), delimiter="\t"))
    expected = [
        ("zoe@example.org", str(w["first"]), "0.5"),
        (JEANNE, str(w["second"]), "1"),
    ]
    assert [(r["email"], r["occurrence_id"], r["AMA_PRA_1"]) for r in table] == expected
    assert [(r["email"], r["occurrence_id"], r["AMA_PRA_1"]) for r in tab] == expected


async def test_revoked_certificate_shows_revoked_on_the_physicians_page_without_downloads(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)
    cookie, _ = await physician_session(client, w["jeanne"]["token"])

    french = await _page(client, "/me", {**FRENCH, "Cookie": cookie})
    english = await _page(client, "/me?lang=en", {**ENGLISH, "Cookie": cookie})

    assert "Révoquée le" in french
    assert "ne compte plus dans vos crédits" in french
    assert "Revoked on" in english
    assert "no longer counts toward your credits" in english
    assert "attendance disputed" not in french  # the reason stays on the organisers' pages
    assert f"/me/certificates/{w['first']}.pdf" not in french
    assert f"/me/certificates/{w['first']}.json" not in french
    assert f"/me/certificates/{w['second']}.pdf" in french


async def test_organisers_see_a_revoked_session_marked_and_without_credit(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    """The session's attendance (API, page in both languages, CSV), its summary and Jeanne's
    receipt (the organiser's and her own) say the certificate was revoked; none shows its
    credit as if it counted. Zoé's stands."""
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)
    organiser = await organiser_cookie(database)
    path = f"/organizer/occurrences/{w['first']}"
    receipt = f"{path}/receipts/{w['jeanne']['id']}"
    cookie, _ = await physician_session(client, w["jeanne"]["token"])

    listed = await (
        await client.get(f"/api/occurrences/{w['first']}/attendance", headers=auth)
    ).json()
    french = await _page(client, path, {**FRENCH, **organiser})
    exported = await client.get(f"{path}/attendance.csv", headers=organiser)
    receipts = [
        await _page(client, receipt, {**FRENCH, **organiser}),
        await _page(client, f"/me/receipts/{w['first']}", {**FRENCH, "Cookie": cookie}),
    ]
    english = await _page(client, f"{path}?lang=en", {**ENGLISH, **organiser})  # sets a cookie

    by_email = {a["email"]: a for a in listed["items"]}
    assert by_email[JEANNE]["credits"] == {}
    assert by_email[JEANNE]["revoked_at"] is not None
    assert (by_email["zoe@example.org"]["credits"], by_email["zoe@example.org"]["revoked_at"]) == (
        {"AMA_PRA_1": 0.5},
        None,
    )
    assert "attestation révoquée le" in french
    assert "aucun crédit ne compte" in french
    assert "Crédités</dt><dd>1 (sans compter 1 attestation révoquée)" in french
    assert "certificate revoked on" in english
    assert "1 (not counting 1 revoked certificate)" in english
    rows = list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert [(r["email"], r["status"], r["AMA_PRA_1"]) for r in rows] == [
        (JEANNE, "revoked", "0"),
        ("zoe@example.org", "final", "0.5"),
    ]
    for text in receipts:
        assert "a révoqué l'attestation de cette session le" in text
        assert "ne comptent nulle part" in text


async def test_revoked_certificate_pdf_and_credential_answer_gone(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    w = await _world(client, auth, database, scheduler)
    (code,) = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, code)
    cookie, _ = await physician_session(client, w["jeanne"]["token"])
    token = bearer(w["jeanne"]["token"])

    answers = [
        (await client.get(f"/api/me/certificates/{w['first']}.pdf", headers=token)).status,
        (await client.get(f"/api/me/certificates/{w['first']}.json", headers=token)).status,
        (await client.get(f"/me/certificates/{w['first']}.pdf", headers={"Cookie": cookie})).status,
        (
            await client.get(f"/me/certificates/{w['first']}.json", headers={"Cookie": cookie})
        ).status,
    ]
    standing = await client.get(f"/api/me/certificates/{w['second']}.pdf", headers=token)

    assert answers == [410, 410, 410, 410]
    assert standing.status == 200


async def test_superseded_certificate_says_its_replacement_was_revoked(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    w = await _world(client, auth, database, scheduler)
    await _late_leave(client, auth, w)  # no revocation yet: a replacement is issued
    old, new = await _codes(database, w["jeanne"]["id"], w["first"])
    await _revoke(client, auth, new)

    check = await (
        await client.get(f"/certificates/{old}", headers={"Accept": "application/json"})
    ).json()
    (standing,) = await _codes(database, w["jeanne"]["id"], w["second"])
    english = await _page(client, f"/certificates/{old}", ENGLISH)
    french = await _page(client, f"/certificates/{old}", FRENCH)
    revoked = await _page(client, f"/certificates/{new}", ENGLISH)
    valid = await _page(client, f"/certificates/{standing}", ENGLISH)

    assert (check["status"], check["superseded_by"]) == ("superseded", new)
    assert check["superseded_by_revoked_at"] is not None
    assert f"The certificate that replaced it ({new}) was itself revoked" in english
    assert "See the current certificate" not in english
    assert f"L'attestation qui l'a remplacée ({new}) a elle-même été révoquée" in french
    for page in (english, revoked):
        assert "is marked revoked in the provider's status list" in page
        assert "which its holder can download" not in page
    assert "which its holder can download" in valid
