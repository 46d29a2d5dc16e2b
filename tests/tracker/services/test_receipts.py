"""The credit receipt (SPEC 7, issue 11 point 7): written when credits become final, shown to
the physician and to organisers, through the real app on both engines.

One physician on three connections: a phone joining ten minutes early (clipped), a laptop
leaving and coming back after the end (clipped, and overlapping the phone), and a Zoom
participant seen by the webhook; the API and the webhook are the two sources.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import select

from tests.factories import create_physician, create_series, job_context, occurrences
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tracker.adapters.zoom_webhook import sign
from tracker.db import Database
from tracker.domain.credits import RULES_VERSION
from tracker.domain.models import Award
from tracker.domain.receipts import RETENTION
from tracker.http.keys import MAIL
from tracker.jobs import plan_finalisations
from tracker.settings import Settings

SECRET = "zoom-secret-token"
WEBINAR = "81234567890"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)})


def _zoom(kind: str, at: str) -> dict[str, Any]:
    field = "join_time" if kind == "joined" else "leave_time"
    return {
        "event": f"webinar.participant_{kind}",
        "event_ts": 1,
        "payload": {
            "object": {
                "id": WEBINAR,
                "uuid": "instance-1==",
                "participant": {
                    "email": "Jeanne.Durand@example.org",
                    "participant_uuid": "Z1",
                    field: at,
                },
            }
        },
    }


async def _deliver(client: TestClient, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    response = await client.post(
        "/webhooks/zoom",
        data=body,
        headers={
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(SECRET, timestamp, body),
            "Content-Type": "application/json",
        },
    )
    assert response.status == 200, await response.text()


async def _attended(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> tuple[int, dict[str, Any]]:
    """A one-hour Paris session on 1 December 2026 (11:30-12:30 UTC), 50 % minimum, AMA (quarter)
    and SMC (all or nothing) credit; credits final."""
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=1;BYDAY=TU",
        credits=[{"type": "AMA_PRA_1", "max": 1}, {"type": "SMC_HOURS", "max": 2}],
        min_attendance_percent=50,
        zoom_webinar_id=WEBINAR,
    )
    (first,) = await occurrences(client, auth, series["id"])
    physician = await create_physician(client, auth, email="jeanne.durand@example.org")
    stays = [
        ("phone", "join", "11:20"),
        ("phone", "leave", "11:50"),
        ("laptop", "join", "11:45"),
        ("laptop", "leave", "12:10"),
        ("laptop", "join", "12:25"),
        ("laptop", "leave", "12:45"),
    ]
    events = [
        {
            "event_id": f"{device}-{kind}-{at}",
            "occurrence_id": first["id"],
            "physician_id": physician["id"],
            "kind": kind,
            "at": f"2026-12-01T{at}:00Z",
            "connection_id": device,
        }
        for device, kind, at in stays
    ]
    ctx = dataclasses.replace(job_context(database, scheduler), mail=client.app[MAIL])
    with time_machine.travel(datetime(2026, 12, 1, 12, 50, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
        await _deliver(client, _zoom("joined", "2026-12-01T12:26:00Z"))
        await _deliver(client, _zoom("left", "2026-12-01T12:28:00Z"))
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)
    return first["id"], physician


async def _receipt(database: Database, occurrence_id: int) -> tuple[bool, dict[str, Any] | None]:
    async with database.session() as session:
        award = (
            await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))
        ).one()
    return award.final, award.receipt


async def test_finalisation_keeps_how_the_credits_were_computed(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, _ = await _attended(client, auth, database, scheduler)

    final, receipt = await _receipt(database, occurrence_id)

    assert final is True and receipt is not None
    assert receipt["rules"] == RULES_VERSION
    assert receipt["window"] == ["2026-12-01T11:30:00Z", "2026-12-01T12:30:00Z"]
    minute = 60
    assert receipt["connections"] == [
        {
            "id": "phone",
            "sources": ["api"],
            "intervals": [[-10 * minute, 20 * minute, 20 * minute, True]],
        },
        {
            "id": "laptop",
            "sources": ["api"],
            "intervals": [
                [15 * minute, 40 * minute, 25 * minute, True],
                [55 * minute, 75 * minute, 5 * minute, True],
            ],
        },
        {
            "id": "Z1",
            "sources": ["zoom"],
            "intervals": [[56 * minute, 58 * minute, 2 * minute, True]],
        },
    ]
    assert receipt["counted"] == [[0, 40 * minute], [55 * minute, 60 * minute]]
    assert (receipt["seconds"], receipt["clipped_seconds"], receipt["overlap_seconds"]) == (
        45 * minute,
        25 * minute,
        7 * minute,
    )
    assert receipt["threshold"] == {"percent": 50.0, "needed_seconds": 30 * minute, "met": True}
    assert receipt["credits"] == [
        {"type": "AMA_PRA_1", "rounding": "quarter", "max": 1.0, "awarded": 0.75},
        {"type": "SMC_HOURS", "rounding": "all_or_nothing", "max": 2.0, "awarded": 2.0},
    ]
    assert receipt["sources"] == ["api", "zoom"]
    assert RETENTION.days >= 6 * 365


async def test_the_attendance_api_gives_one_physicians_receipt(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, physician = await _attended(client, auth, database, scheduler)
    url = f"/api/occurrences/{occurrence_id}/attendance"

    one = await (
        await client.get(url, params={"physician_id": str(physician["id"])}, headers=auth)
    ).json()
    every = await (await client.get(url, headers=auth)).json()
    _, stored = await _receipt(database, occurrence_id)

    assert [item["receipt"] for item in one["items"]] == [stored]
    assert [item["receipt"] for item in every["items"]] == [None]


async def test_the_physician_reads_the_receipt_in_french_and_english(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, physician = await _attended(client, auth, database, scheduler)
    signed_in = await client.get(f"/me/{physician['token']}", allow_redirects=False)
    cookie = {"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}

    me = await (await client.get("/me", headers=cookie)).text()
    french = await client.get(f"/me/receipts/{occurrence_id}", headers=cookie)
    french_text = await french.text()
    english = await (
        await client.get(f"/me/receipts/{occurrence_id}?lang=en", headers=cookie)
    ).text()

    assert f'href="/me/receipts/{occurrence_id}"' in me
    assert french.status == 200
    for shown in (
        "Justificatif de crédits",
        "Horaires : heure de Paris. La session a eu lieu de 12:30 à 13:30.",
        "12:20:00 → 12:50:00 (départ) : 20 min comptées, 10 min hors de la session non comptées",
        "13:25:00 → 13:45:00 (départ) : 5 min comptées, 15 min hors de la session non comptées",
        "Connexion 3 (webhook Zoom)",
        '<dd id="receipt-minutes">45 min</dd>',
        '<dd id="receipt-clipped">25 min</dd>',
        "heures arrondies au quart d&#39;heure le plus proche",
        "0,75",
        '<dd id="receipt-sources">webhook Zoom, API</dd>',
        RULES_VERSION,
        "conservé 6 ans",
    ):
        assert shown in french_text, shown
    for shown in (
        "Credit receipt",
        "12:20:00 → 12:50:00 (left): 20 min counted, 10 min outside the session not counted",
        "all or nothing: the maximum once the minimum is met",
        '<dd id="receipt-sources">Zoom webhook, API</dd>',
    ):
        assert shown in english, shown


async def test_organisers_open_each_receipt_from_the_attendance_table(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, physician = await _attended(client, auth, database, scheduler)
    cookie = await organiser_cookie(database)
    link = f"/organizer/occurrences/{occurrence_id}/receipts/{physician['id']}"

    table = await (
        await client.get(f"/organizer/occurrences/{occurrence_id}", headers=cookie)
    ).text()
    page = await client.get(f"{link}?lang=en", headers=cookie)
    text = await page.text()
    unknown = await client.get(
        f"/organizer/occurrences/{occurrence_id}/receipts/999999", headers=cookie
    )
    signed_out = await client.get(link, allow_redirects=False)

    assert f'href="{link}"' in table
    assert page.status == 200
    assert "Jeanne Durand" in text and "Connection 3 (Zoom webhook)" in text
    assert "kept for 6 years with the physician&#39;s credits" in text
    assert unknown.status == 404 and "text/html" in unknown.headers["Content-Type"]
    assert (signed_out.status, signed_out.headers["Location"]) == (303, "/organizer/login")


async def test_another_physicians_receipt_is_not_found(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, _ = await _attended(client, auth, database, scheduler)
    other = await create_physician(client, auth, email="paul@example.org", first_name="Paul")
    signed_in = await client.get(f"/me/{other['token']}", allow_redirects=False)
    cookie = {"Cookie": signed_in.headers["Set-Cookie"].split(";")[0]}

    theirs = await client.get(f"/me/receipts/{occurrence_id}", headers=cookie)
    nonsense = await client.get("/me/receipts/abc", headers=cookie)
    anonymous = await client.get(f"/me/receipts/{occurrence_id}")

    assert (theirs.status, nonsense.status, anonymous.status) == (404, 404, 401)


async def test_a_late_fact_rewrites_the_receipt_with_the_award(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, physician = await _attended(client, auth, database, scheduler)
    late = [
        {
            "event_id": f"tablet-{kind}",
            "occurrence_id": occurrence_id,
            "physician_id": physician["id"],
            "kind": kind,
            "at": at,
            "connection_id": "tablet",
        }
        for kind, at in (("join", "2026-12-01T12:05:00Z"), ("leave", "2026-12-01T12:26:00Z"))
    ]

    with time_machine.travel(datetime(2026, 12, 1, 14, 30, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=late, headers=auth)
    async with database.session() as session:
        award = (
            await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))
        ).one()

    assert response.status == 202
    assert (award.final, award.version, award.credits["AMA_PRA_1"]) == (True, 2, 1.0)
    assert award.receipt is not None
    assert (award.receipt["seconds"], award.receipt["computed_at"]) == (
        3600,
        "2026-12-01T14:30:00Z",
    )
    assert [c["id"] for c in award.receipt["connections"]] == ["phone", "laptop", "tablet", "Z1"]


async def test_a_final_award_kept_before_receipts_shows_one_computed_from_its_facts(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    occurrence_id, physician = await _attended(client, auth, database, scheduler)
    async with database.session() as session:
        award = (
            await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))
        ).one()
        award.receipt = None  # as migration 0015 leaves the awards made final before it
        await session.commit()
    cookie = await organiser_cookie(database)

    page = await client.get(
        f"/organizer/occurrences/{occurrence_id}/receipts/{physician['id']}?lang=en",
        headers=cookie,
    )

    assert page.status == 200
    assert '<dd id="receipt-minutes">45 min</dd>' in await page.text()
