"""Claims and evaluations (issue 11, points 1-3), through the real app, jobs and SMTP, on both
engines: the credits-are-final email carries a claim link instead of the certificate; the
physician claims fewer minutes and answers the evaluation; the certificate follows with the
credit claimed; the organiser reads the results and exports them."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import select

from tests.factories import create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
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
    to,
)
from tracker.db import Database
from tracker.domain.models import Certificate, Claim
from tracker.jobs import claim_reminders_job, plan_finalisations

AFTER = FINAL + timedelta(hours=1)


def _answers(world: ClaimWorld, **extra: str) -> dict[str, str]:
    scale, yes_no, text = world.question_ids
    return {f"q{scale}": "4", f"q{yes_no}": "yes", f"q{text}": "Très clair.", **extra}


async def _claim_links(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any, smtp: SmtpServer
) -> tuple[ClaimWorld, dict[str, tuple[str, str]]]:
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)
    messages = await deliver(database, smtp, AFTER)
    links = {
        who: link_in(message)
        for who, address in (("jeanne", "jeanne.durand@example.org"), ("paul", "paul@example.org"))
        for message in to(messages, address)
    }
    return world, links


async def test_the_whole_story_from_the_final_email_to_the_organisers_csv(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)

    rows = await outbox(database)
    assert sorted(row.kind for row in rows) == ["claim", "claim"]  # no certificate yet
    messages = await deliver(database, smtp_server, AFTER)
    (first,) = to(messages, "jeanne.durand@example.org")
    assert str(first["Subject"]).startswith(
        "Vos crédits sont définitifs, demandez-les : Les lundis"
    )
    assert "Minutes de présence : 60" in text_of(first)
    assert "jusqu'à 1,0" in text_of(first)
    assert "les demandes ferment le jeudi 31 décembre 2026 à 15:05" in text_of(first)
    path, lang = link_in(first)
    assert lang == "fr"

    with time_machine.travel(AFTER, tick=False):
        page = await client.get(path, params={"lang": lang})
        html = await page.text()
        assert page.status == 200
        assert 'value="60"' in html  # the computed minutes, pre-filled
        assert "Je ne demande que les crédits correspondant à ma participation effective" in html
        assert "Cette session a-t-elle répondu à vos besoins ?" in html
        assert "<form" in html and (await database_claims(database))[0].claimed_at is None

        scale, yes_no, text = world.question_ids
        form = {
            "minutes": "45,5",
            "attest": "yes",
            f"q{scale}": "4",
            f"q{yes_no}": "yes",
            f"q{text}": '=HYPERLINK("https://evil.example")\nMerci !',
            "lang": "fr",
        }
        done = await client.post(path, data=form)
        assert done.status == 200, await done.text()
        assert "Crédits demandés" in await done.text()
        assert "AMA PRA" in await done.text() and "0,75" in await done.text()

        again = await client.post(path, data=form)
        assert again.status == 409
        assert "Crédits déjà demandés" in await again.text()
        reopened = await client.get(path)
        assert reopened.status == 200 and "Crédits déjà demandés" in await reopened.text()

    messages = await deliver(database, smtp_server, AFTER + timedelta(minutes=1))
    certificate = [m for m in to(messages, "jeanne.durand@example.org") if m is not first]
    (certificate_email,) = certificate
    assert str(certificate_email["Subject"]).startswith("Votre attestation : Les lundis")
    assert "Minutes de présence : 45,5" in text_of(certificate_email)
    assert "0,75" in text_of(certificate_email)  # 45.5 minutes: three quarter hours
    assert any(
        p.get_content_type() == "application/pdf" for p in certificate_email.iter_attachments()
    )
    async with database.session() as session:
        (stored,) = (await session.exec(select(Certificate))).all()
    assert (stored.minutes, stored.credits) == (45.5, {"AMA_PRA_1": 0.75})

    results = await client.get(f"/api/occurrences/{world.occurrence_id}/evaluation", headers=auth)
    body = await results.json()
    assert (body["claims"], body["claimed"]) == (2, 1)
    by_kind = {q["kind"]: q for q in body["questions"]}
    assert (by_kind["scale"]["count"], by_kind["scale"]["mean"]) == (1, 4.0)
    assert by_kind["scale"]["spread"] == {"4": 1}
    assert (by_kind["yes_no"]["yes"], by_kind["yes_no"]["no"]) == (1, 0)
    assert by_kind["text"]["texts"] == ['=HYPERLINK("https://evil.example")\nMerci !']

    export = await client.get(
        f"/api/occurrences/{world.occurrence_id}/evaluation.csv", headers=auth
    )
    assert export.status == 200 and export.content_type == "text/csv"
    table = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert table[0] == [
        "occurrence_id",
        "session_start",
        "response",
        "question_number",
        "question_kind",
        "question_en",
        "question_fr",
        "answer",
    ]
    answers = {row[4]: row[7] for row in table[1:]}
    assert answers == {
        "scale": "4",
        "yes_no": "yes",
        "text": '\'=HYPERLINK("https://evil.example")\nMerci !',  # never a formula
    }
    assert {row[1] for row in table[1:]} == {"2026-12-01T11:30:00Z"}


async def database_claims(database: Database) -> list[Claim]:
    async with database.session() as session:
        return list((await session.exec(select(Claim))).all())


async def test_more_minutes_than_computed_no_attestation_or_missing_answers_are_refused(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    path, _ = links["paul"]  # 45 minutes attended, English
    scale, yes_no, _text = world.question_ids
    cases = [
        ({"minutes": "46", "attest": "yes", **_answers(world)}, "at most 45 minutes"),
        ({"minutes": "45.001", "attest": "yes", **_answers(world)}, "at most two decimals"),
        ({"minutes": "-5", "attest": "yes", **_answers(world)}, "greater than 0"),
        ({"minutes": "0,00", "attest": "yes", **_answers(world)}, "greater than 0"),
        ({"minutes": "NaN", "attest": "yes", **_answers(world)}, "as a number in digits 0-9"),
        ({"minutes": "1e1", "attest": "yes", **_answers(world)}, "as a number in digits 0-9"),
        ({"minutes": "1_0", "attest": "yes", **_answers(world)}, "as a number in digits 0-9"),
        ({"minutes": "\u0667\u0660", "attest": "yes", **_answers(world)}, "in digits 0-9"),
        ({"minutes": "100001", "attest": "yes", **_answers(world)}, "at most 45 minutes"),
        ({"minutes": "45", **_answers(world)}, "Tick the attestation"),
        (
            {"minutes": "45", "attest": "yes", **_answers(world, **{f"q{scale}": ""})},
            "Choose an answer.",
        ),
        (
            {"minutes": "45", "attest": "yes", **_answers(world, **{f"q{scale}": "9"})},
            "Choose one of the answers",
        ),
        (
            {"minutes": "45", "attest": "yes", **_answers(world, **{f"q{yes_no}": "maybe"})},
            "Choose one of the answers",
        ),
        ({"minutes": "10", "attest": "yes", **_answers(world)}, "These minutes give no credit"),
        (
            {"minutes": "45", "attest": "yes", **_answers(world, **{f"q{_text}": "x" * 2001})},
            "too long",
        ),
    ]
    with time_machine.travel(AFTER, tick=False):
        for form, message in cases:
            response = await client.post(path, data=form)
            html = await response.text()
            assert (response.status, message in html) == (422, True), (form, html[-3000:])
            assert 'aria-invalid="true"' in html
        assert all(claim.claimed_at is None for claim in await database_claims(database))
        done = await client.post(path, data={"minutes": "45", "attest": "yes", **_answers(world)})
        assert done.status == 200
        assert "Credits claimed" in await done.text()
    async with database.session() as session:
        (stored,) = (await session.exec(select(Certificate))).all()
    assert (stored.minutes, stored.credits) == (45.0, {"AMA_PRA_1": 0.75})


async def test_a_reminder_goes_three_days_before_claims_close_once_and_its_link_works(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    ctx = job_context(database, scheduler)
    with time_machine.travel(AFTER, tick=False):
        jeanne_claims = await client.post(
            links["jeanne"][0], data={"minutes": "60", "attest": "yes", **_answers(world)}
        )
        assert jeanne_claims.status == 200
    with time_machine.travel(CLOSES - timedelta(days=4), tick=False):
        await claim_reminders_job(ctx)  # too early
    assert [r.kind for r in await outbox(database)].count("claim-reminder") == 0
    for hours in (0, 1, 2):  # three runs, as the scheduler makes them (and other processes)
        with time_machine.travel(CLOSES - timedelta(days=3) + timedelta(hours=hours), tick=False):
            await claim_reminders_job(ctx)
    reminders = [r for r in await outbox(database) if r.kind == "claim-reminder"]
    assert [r.recipient for r in reminders] == ["paul@example.org"]  # Jeanne claimed

    messages = await deliver(database, smtp_server, CLOSES - timedelta(days=2))
    (reminder,) = [m for m in to(messages, "paul@example.org") if "Reminder" in str(m["Subject"])]
    assert str(reminder["Subject"]) == (
        "Reminder: claim your credits for Les lundis de la santé numérique "
        "(closing on Thursday 31 December 2026 at 09:05)"
    )
    path, lang = link_in(reminder)
    assert (path != links["paul"][0], lang) == (True, "en")
    with time_machine.travel(CLOSES - timedelta(days=2), tick=False):
        for link in (path, links["paul"][0]):  # both emails' links open the claim
            page = await client.get(link)
            assert page.status == 200
            assert "I claim only the credit commensurate with the extent of my participation" in (
                await page.text()
            )


async def test_after_the_window_the_link_says_claims_closed_in_the_physicians_language(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    with time_machine.travel(CLOSES + timedelta(seconds=1), tick=False):
        page = await client.get(links["jeanne"][0])
        assert page.status == 410
        assert "Demandes closes" in await page.text()
        refused = await client.post(
            links["paul"][0], data={"minutes": "45", "attest": "yes", **_answers(world)}
        )
        assert refused.status == 410
        assert "Claims closed" in await refused.text()
        unknown = await client.get(links["paul"][0][:-4] + "AAAA")
        assert unknown.status == 404
        assert "Unknown link" in await unknown.text() or "Lien inconnu" in await unknown.text()
    assert all(claim.claimed_at is None for claim in await database_claims(database))
    assert [r.kind for r in await outbox(database)].count("certificate") == 0

    # the organiser extends the window: the claims not made close on the new date
    longer = await client.patch(
        f"/api/series/{world.series_id}", json={"claim_window_days": 60}, headers=auth
    )
    assert longer.status == 200
    assert {c.closes_at for c in await database_claims(database)} == {CLOSES + timedelta(days=30)}
    with time_machine.travel(CLOSES + timedelta(days=1), tick=False):
        reopened = await client.get(links["jeanne"][0])
        assert reopened.status == 200


async def test_a_late_change_reissues_a_claimed_certificate_within_the_claim(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Paul claimed 30 of his 45 minutes; a late event adds ten minutes of attendance: the
    certificate is re-issued (a new award version) still with the 30 minutes claimed."""
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    with time_machine.travel(AFTER, tick=False):
        done = await client.post(
            links["paul"][0], data={"minutes": "30", "attest": "yes", **_answers(world)}
        )
        assert done.status == 200
        late = [
            {
                "event_id": f"{kind}-late",
                "occurrence_id": world.occurrence_id,
                "physician_id": world.paul["id"],
                "kind": kind,
                "at": at,
                "connection_id": "phone",
            }
            for kind, at in (("join", "2026-12-01T12:15:00Z"), ("leave", "2026-12-01T12:25:00Z"))
        ]
        response = await client.post("/api/attendance-events", json=late, headers=auth)
        assert response.status == 202
    async with database.session() as session:
        stored = sorted(
            (c.version, c.minutes, c.credits["AMA_PRA_1"])
            for c in (await session.exec(select(Certificate))).all()
        )
    assert stored == [(1, 30.0, 0.5), (2, 30.0, 0.5)]


async def test_without_claims_the_final_email_is_the_certificate_as_before(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await build_claim_world(client, auth)
    response = await client.patch(
        f"/api/series/{world.series_id}", json={"claim_required": False}, headers=auth
    )
    assert response.status == 200 and (await response.json())["claim_required"] is False
    await finalise(database, scheduler)
    assert sorted(row.kind for row in await outbox(database)) == ["certificate", "certificate"]
    assert await database_claims(database) == []


async def test_the_evaluation_api_keeps_questions_by_id_and_refuses_bad_lists(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    with time_machine.travel(AFTER, tick=False):
        assert (
            await client.post(
                links["jeanne"][0], data={"minutes": "60", "attest": "yes", **_answers(world)}
            )
        ).status == 200
    url = f"/api/series/{world.series_id}/evaluation"
    scale, yes_no, _text = world.question_ids
    kept = {"id": scale, "kind": "scale", "text_fr": "Utile ?", "text_en": "Useful?"}
    response = await client.put(url, json={"questions": [kept]}, headers=auth)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["claim_required"] is True and body["claim_window_days"] == 30
    assert body["questions"] == [{**kept, "position": 1}]
    # the results keep the retired questions' answers
    results = await (
        await client.get(f"/api/occurrences/{world.occurrence_id}/evaluation", headers=auth)
    ).json()
    assert [(q["kind"], q["retired"], q["count"]) for q in results["questions"]] == [
        ("scale", False, 1),
        ("yes_no", True, 1),
        ("text", True, 1),
    ]
    too_many = {"questions": [{**kept, "id": None}] * 21}
    bad = [
        too_many,
        {"questions": [{**kept, "text_en": "x" * 301}]},
        {"questions": [{**kept, "text_fr": "  \n "}]},
        {"questions": [{**kept, "kind": "stars"}]},
        {"questions": [{**kept, "id": yes_no}]},  # retired: not a current question
        {"questions": [kept, kept]},
        {"questions": [{**kept, "text_fr": "a\x00b"}], "extra": 1},
    ]
    for payload in bad:
        refused = await client.put(url, json=payload, headers=auth)
        assert refused.status == 422, (payload, await refused.text())
        assert refused.content_type == "application/problem+json"
    missing = await client.put(
        "/api/series/999999/evaluation", json={"questions": []}, headers=auth
    )
    assert missing.status == 404
    assert (await client.get("/api/occurrences/999999/evaluation.csv", headers=auth)).status == 404
    window = await client.patch(
        f"/api/series/{world.series_id}", json={"claim_window_days": 0}, headers=auth
    )
    assert window.status == 422


async def test_two_submits_at_the_same_moment_make_one_claim_and_one_certificate(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """A double click, or two tabs: the one conditional UPDATE lets one submit claim."""
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    path, _ = links["jeanne"]
    with time_machine.travel(AFTER, tick=False):
        answers = await asyncio.gather(
            *(
                client.post(path, data={"minutes": m, "attest": "yes", **_answers(world)})
                for m in ("50", "40")
            )
        )
    assert sorted(a.status for a in answers) == [200, 409]
    async with database.session() as session:
        certificates = (await session.exec(select(Certificate))).all()
        (claim,) = (
            await session.exec(select(Claim).where(Claim.physician_id == world.jeanne["id"]))
        ).all()
    assert [c.minutes for c in certificates] == [claim.claimed_minutes]
    assert [r.kind for r in await outbox(database)].count("certificate") == 1


async def test_the_completions_export_reports_the_credit_claimed_and_nothing_before_a_claim(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    for who in (world.jeanne, world.paul):
        consent = await client.patch(
            f"/api/physicians/{who['id']}", json={"consent_board_reporting": True}, headers=auth
        )
        assert consent.status == 200
    with time_machine.travel(AFTER, tick=False):
        done = await client.post(
            links["jeanne"][0], data={"minutes": "45,5", "attest": "yes", **_answers(world)}
        )
        assert done.status == 200
    export = await client.get("/api/exports/completions.csv", headers=auth)
    table = list(csv.DictReader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert [(r["email"], r["minutes"], r["AMA_PRA_1"]) for r in table] == [
        ("jeanne.durand@example.org", "45.50", "0.75")  # Paul has not claimed: no completion
    ]


async def test_the_sessions_attendance_shows_the_credit_claimed_as_every_other_view_does(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """The organiser's session page said 1.25 where the physician's page, the credits API and
    the certificate said 0.75: what she claimed."""
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    with time_machine.travel(AFTER, tick=False):
        done = await client.post(
            links["jeanne"][0], data={"minutes": "45,5", "attest": "yes", **_answers(world)}
        )
        assert done.status == 200
        listed = await (
            await client.get(f"/api/occurrences/{world.occurrence_id}/attendance", headers=auth)
        ).json()
        mine = await (
            await client.get(
                "/api/me/credits", headers={"Authorization": f"Bearer {world.jeanne['token']}"}
            )
        ).json()
    by_id = {row["physician_id"]: row for row in listed["items"]}

    assert (
        by_id[world.jeanne["id"]]["credits"] == mine["awards"][0]["credits"] == {"AMA_PRA_1": 0.75}
    )
    assert by_id[world.paul["id"]]["credits"] != {}  # not claimed yet: what may be claimed


async def test_the_credit_summary_counts_the_credit_claimed_and_nothing_before_a_claim(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """What the physician watches add up (their page, /api/me/credits, the monthly statement)
    is what they claimed: an unclaimed final award counts nothing yet, a claimed one its
    claimed credit, an award whose window closed unclaimed nothing."""
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    paul = {"Authorization": f"Bearer {world.paul['token']}"}

    async def summary() -> dict[str, Any]:
        response = await client.get("/api/me/credits", headers=paul)
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    with time_machine.travel(AFTER, tick=False):
        before = await summary()
        signed_in = await client.get(f"/me/{world.paul['token']}", allow_redirects=False)
        cookie = {"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}
        page = await (await client.get("/me", headers=cookie)).text()
        done = await client.post(
            links["paul"][0], data={"minutes": "30", "attest": "yes", **_answers(world)}
        )
        assert done.status == 200
        after = await summary()
    with time_machine.travel(CLOSES + timedelta(days=1), tick=False):
        jeanne = await client.get(
            "/api/me/credits", headers={"Authorization": f"Bearer {world.jeanne['token']}"}
        )
        closed = await jeanne.json()

    assert "To claim: follow the link in your “credits are final” email" in unescape(page)
    ((award,),) = [before["awards"]]
    assert (award["claim"], award["credits"], before["final_totals"]) == ("open", {}, {})
    assert award["minutes"] == 45  # the computed minutes stay shown
    ((award,),) = [after["awards"]]
    assert (award["claim"], award["credits"]) == ("claimed", {"AMA_PRA_1": 0.5})
    assert after["final_totals"] == {"AMA_PRA_1": 0.5}
    ((award,),) = [closed["awards"]]
    assert (award["claim"], award["credits"], closed["totals"]) == ("closed", {}, {})


async def test_a_late_report_opens_a_whole_claim_window_from_the_day_it_gives_credit(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """A session on 3 December with a one-day window, its attendance posted on the 8th (a late
    Zoom report): the claim email offers a claim open until the 9th, and it is open."""
    series = await create_series(
        client,
        auth,
        title="Les jeudis",
        start="2026-12-03T12:30:00",
        rrule=None,
        reminders=[],
        claim_required=True,
        claim_window_days=1,
    )
    physician = await create_physician(client, auth)
    (occurrence,) = await occurrences(client, auth, series["id"])
    with time_machine.travel(datetime(2026, 12, 3, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))  # final, nobody attended
    reported = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    events = [
        {
            "event_id": f"late-{kind}",
            "occurrence_id": occurrence["id"],
            "physician_id": physician["id"],
            "kind": kind,
            "at": at,
        }
        for kind, at in (("join", "2026-12-03T11:30:00Z"), ("leave", "2026-12-03T12:30:00Z"))
    ]
    with time_machine.travel(reported, tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()

    (stored,) = await database_claims(database)
    assert stored.closes_at == reported + timedelta(days=1)
    messages = await deliver(database, smtp_server, reported + timedelta(minutes=1))
    (email,) = to(messages, "jeanne.durand@example.org")
    assert "les demandes ferment le mercredi 9 décembre 2026 à 10:00" in text_of(email)
    path, lang = link_in(email)
    mine = {"Authorization": f"Bearer {physician['token']}"}
    with time_machine.travel(reported + timedelta(hours=1), tick=False):
        page = await client.get(path, params={"lang": lang})
        credits = await (await client.get("/api/me/credits", headers=mine)).json()
    assert page.status == 200, await page.text()
    assert credits["awards"][0]["claim"] == "open"
    with time_machine.travel(reported + timedelta(days=1, seconds=1), tick=False):
        closed = await client.get(path, params={"lang": lang})
    assert closed.status == 410


async def test_a_claim_after_the_series_rules_changed_is_credited_under_the_sessions_rules(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """Paul's 45 minutes were final under 50 % and 1 credit at most; the organiser then asks
    80 % and 0.5 at most: his claim of the 45 minutes still gives 0.75, as his email said."""
    world, links = await _claim_links(client, auth, database, scheduler, smtp_server)
    edited = await client.patch(
        f"/api/series/{world.series_id}",
        json={"credits": [{"type": "AMA_PRA_1", "max": 0.5}], "min_attendance_percent": 80},
        headers=auth,
    )
    assert edited.status == 200
    assert (await edited.json())["final_sessions_keeping_rules"] == 1
    with time_machine.travel(AFTER, tick=False):
        done = await client.post(
            links["paul"][0], data={"minutes": "45", "attest": "yes", **_answers(world)}
        )
        assert done.status == 200, await done.text()
    async with database.session() as session:
        (stored,) = (await session.exec(select(Certificate))).all()
    assert (stored.minutes, stored.credits) == (45.0, {"AMA_PRA_1": 0.75})
