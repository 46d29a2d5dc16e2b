"""Zoom webhooks: signatures, URL validation, and participant events turned into credits."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr
from sqlmodel import col, select

from notifications.models import OutboxMessage
from tests.factories import (
    bearer,
    create_physician,
    create_series,
    every_item,
    job_context,
    occurrences,
)
from tracker.adapters.zoom_webhook import sign, to_event
from tracker.app import create_app
from tracker.db import Database
from tracker.errors import ZoomPayloadError
from tracker.jobs import plan_finalisations
from tracker.settings import Settings

SECRET = "zoom-secret-token"
WEBINAR = "81234567890"
DURING = datetime(2026, 11, 2, 12, 45, tzinfo=UTC)  # just after the first session ended
AFTER_GRACE = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)  # end 12:30 + 90 min


@pytest.fixture
async def zoom_client(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)}))
    yield await aiohttp_client(app)


def participant(event: str, email: str, uuid: str, when: str) -> dict[str, Any]:
    field = "join_time" if event.endswith("joined") else "leave_time"
    return {
        "event": f"webinar.participant_{event}",
        "event_ts": 1,
        "payload": {
            "account_id": "acc",
            "object": {
                "id": WEBINAR,
                "uuid": "instance-1==",
                "participant": {
                    "user_name": email.split("@")[0],
                    "email": email,
                    "participant_uuid": uuid,
                    field: when,
                },
            },
        },
    }


def ended(when: str) -> dict[str, Any]:
    return {
        "event": "webinar.ended",
        "event_ts": 1,
        "payload": {"object": {"id": WEBINAR, "uuid": "instance-1==", "end_time": when}},
    }


async def deliver(
    client: TestClient, payload: dict[str, Any], *, secret: str = SECRET, skew: int = 0
) -> Any:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()) + skew)
    headers = {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }
    return await client.post("/webhooks/zoom", data=body, headers=headers)


SEQUENCE = [
    participant("joined", "Jeanne.Durand@example.org", "J1", "2026-11-02T11:25:00Z"),
    participant("left", "jeanne.durand@example.org", "J1", "2026-11-02T11:50:00Z"),
    participant("joined", "jeanne.durand@example.org", "J1", "2026-11-02T11:55:00Z"),
    participant("left", "jeanne.durand@example.org", "J1", "2026-11-02T12:40:00Z"),
    participant("joined", "paul@example.org", "P1", "2026-11-02T11:30:00Z"),
    participant("joined", "paul@example.org", "P2", "2026-11-02T11:40:00Z"),
    participant("left", "paul@example.org", "P1", "2026-11-02T12:00:00Z"),
    participant("left", "paul@example.org", "P2", "2026-11-02T12:05:00Z"),
    participant("joined", "ghost@example.org", "G1", "2026-11-02T11:30:00Z"),
    ended("2026-11-02T12:31:00Z"),
]


async def _setup(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    series = await create_series(
        client,
        auth,
        start="2026-11-02T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=3;BYDAY=MO",
        credits=[{"type": "AMA_PRA_1", "max": 1.0}],
        min_attendance_percent=50,
        zoom_webinar_id=WEBINAR,
    )
    jeanne = await create_physician(client, auth)
    paul = await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
    )
    first = (await occurrences(client, auth, series["id"]))[0]
    return {"series": series, "jeanne": jeanne, "paul": paul, "occurrence": first}


async def _credits(client: TestClient, token: str) -> dict[str, Any]:
    response = await client.get("/api/me/credits", headers=bearer(token))
    assert response.status == 200
    summary: dict[str, Any] = await response.json()
    return summary


async def test_url_validation_answers_the_encrypted_token(zoom_client: TestClient) -> None:
    response = await deliver(
        zoom_client, {"event": "endpoint.url_validation", "payload": {"plainToken": "abc123"}}
    )

    expected = hmac.new(SECRET.encode(), b"abc123", hashlib.sha256).hexdigest()
    assert await response.json() == {"plainToken": "abc123", "encryptedToken": expected}


@pytest.mark.parametrize(
    ("secret", "skew", "detail"),
    [
        ("wrong-secret", 0, "x-zm-signature does not match"),
        (SECRET, -301, "more than 5 minutes from now"),
        (SECRET, 301, "more than 5 minutes from now"),
    ],
)
async def test_bad_or_stale_signature_is_401(
    zoom_client: TestClient, secret: str, skew: int, detail: str
) -> None:
    response = await deliver(zoom_client, ended("2026-11-02T12:31:00Z"), secret=secret, skew=skew)

    assert response.status == 401
    assert detail in (await response.json())["detail"]


async def test_missing_signature_is_401(zoom_client: TestClient) -> None:
    response = await zoom_client.post("/webhooks/zoom", json=ended("2026-11-02T12:31:00Z"))

    assert response.status == 401


async def test_webhook_without_configured_secret_is_503(client: TestClient) -> None:
    response = await deliver(client, ended("2026-11-02T12:31:00Z"))

    assert response.status == 503


async def test_unknown_event_type_is_acknowledged_and_ignored(zoom_client: TestClient) -> None:
    response = await deliver(zoom_client, {"event": "webinar.registration_created", "payload": {}})

    assert (response.status, await response.json()) == (200, {"status": "ignored"})


async def test_participant_event_without_time_is_422(zoom_client: TestClient) -> None:
    response = await deliver(zoom_client, participant("joined", "a@example.org", "X", "not a time"))

    assert response.status == 422


@pytest.mark.parametrize("order", ["as sent", "reversed", "shuffled and delivered twice"])
async def test_signed_sequence_gives_the_same_credits_in_any_order(
    zoom_client: TestClient, auth: dict[str, str], order: str
) -> None:
    ctx = await _setup(zoom_client, auth)
    deliveries = list(SEQUENCE)
    if order == "reversed":
        deliveries.reverse()
    elif order.startswith("shuffled"):
        deliveries = deliveries * 2
        random.Random(7).shuffle(deliveries)

    with time_machine.travel(DURING, tick=True):
        statuses = [(await deliver(zoom_client, payload)).status for payload in deliveries]
        jeanne, paul = (
            await _credits(zoom_client, ctx["jeanne"]["token"]),
            await _credits(zoom_client, ctx["paul"]["token"]),
        )

    assert set(statuses) == {200}
    assert [(a["minutes"], a["credits"], a["final"]) for a in jeanne["awards"]] == [
        (55.0, {"AMA_PRA_1": 1.0}, False)
    ]
    assert [(a["minutes"], a["credits"], a["final"]) for a in paul["awards"]] == [
        (35.0, {"AMA_PRA_1": 0.5}, False)
    ]
    assert (jeanne["totals"], jeanne["final_totals"]) == ({"AMA_PRA_1": 1.0}, {})


async def test_credits_become_final_after_grace_and_late_events_recompute(
    zoom_client: TestClient, auth: dict[str, str], database: Database, settings: Settings
) -> None:
    ctx = await _setup(zoom_client, auth)
    with time_machine.travel(DURING, tick=True):
        for payload in SEQUENCE:
            await deliver(zoom_client, payload)

    with time_machine.travel(AFTER_GRACE, tick=True):
        await plan_finalisations(
            job_context(
                database,
                AsyncIOScheduler(timezone=UTC),
                grace_minutes=settings.credit_grace_minutes,
            )
        )
        final = await _credits(zoom_client, ctx["paul"]["token"])
        await deliver(
            zoom_client, participant("joined", "paul@example.org", "P3", "2026-11-02T12:10:00Z")
        )
        await deliver(
            zoom_client, participant("left", "paul@example.org", "P3", "2026-11-02T12:20:00Z")
        )
        late = await _credits(zoom_client, ctx["paul"]["token"])

    assert [(a["credits"], a["final"]) for a in final["awards"]] == [({"AMA_PRA_1": 0.5}, True)]
    assert final["final_totals"] == {"AMA_PRA_1": 0.5}
    assert [(a["minutes"], a["credits"], a["final"]) for a in late["awards"]] == [
        (45.0, {"AMA_PRA_1": 0.75}, True)
    ]


@pytest.mark.parametrize("order", ["as sent", "reversed"])
async def test_a_join_and_its_leave_in_one_second_count_nothing_and_send_no_certificate(
    zoom_client: TestClient, auth: dict[str, str], database: Database, order: str
) -> None:
    """Zoom's times are whole seconds: a phone that joins and drops within one second is a
    stay of no length (rules 2026.4; before, the whole session and a certificate), while a
    reconnect reusing its participant_uuid in one second goes on to the end."""
    ctx = await _setup(zoom_client, auth)
    deliveries = [
        participant("joined", "jeanne.durand@example.org", "J1", "2026-11-02T11:35:00Z"),
        participant("left", "jeanne.durand@example.org", "J1", "2026-11-02T11:35:00Z"),
        participant("joined", "paul@example.org", "P1", "2026-11-02T11:30:00Z"),
        participant("left", "paul@example.org", "P1", "2026-11-02T11:50:00Z"),
        participant("joined", "paul@example.org", "P1", "2026-11-02T11:50:00Z"),
        ended("2026-11-02T12:31:00Z"),
    ]
    if order == "reversed":
        deliveries.reverse()

    with time_machine.travel(DURING, tick=True):
        statuses = [(await deliver(zoom_client, payload)).status for payload in deliveries]
        provisional = [await _credits(zoom_client, ctx[who]["token"]) for who in ("jeanne", "paul")]
    with time_machine.travel(AFTER_GRACE, tick=True):
        await plan_finalisations(job_context(database, AsyncIOScheduler(timezone=UTC)))
        final = [await _credits(zoom_client, ctx[who]["token"]) for who in ("jeanne", "paul")]
        rows = await every_item(
            zoom_client, auth, f"/api/occurrences/{ctx['occurrence']['id']}/attendance"
        )
    async with database.session() as session:
        certified = (
            await session.exec(
                select(OutboxMessage.physician_id).where(col(OutboxMessage.kind) == "certificate")
            )
        ).all()

    assert set(statuses) == {200}
    assert [
        [(a["minutes"], a["credits"], a["final"]) for a in s["awards"]] for s in provisional
    ] == [[(0.0, {"AMA_PRA_1": 0.0}, False)], [(60.0, {"AMA_PRA_1": 1.0}, False)]]
    assert [[(a["minutes"], a["credits"], a["final"]) for a in s["awards"]] for s in final] == [
        [(0.0, {"AMA_PRA_1": 0.0}, True)],
        [(60.0, {"AMA_PRA_1": 1.0}, True)],
    ]
    assert [(r["last_name"], r["minutes"], r["anomalies"]) for r in rows] == [
        ("Durand", 0.0, []),
        ("Martin", 60.0, []),
    ]
    assert certified == [ctx["paul"]["id"]]


async def test_unmatched_event_is_listed_then_matched_when_the_physician_appears(
    zoom_client: TestClient, auth: dict[str, str]
) -> None:
    await _setup(zoom_client, auth)
    with time_machine.travel(DURING, tick=True):
        for payload in SEQUENCE:
            await deliver(zoom_client, payload)
        unmatched = await every_item(zoom_client, auth, "/api/attendance-events/unmatched")
        ghost = await create_physician(
            zoom_client,
            auth,
            first_name="Gaston",
            last_name="Host",
            email="GHOST@example.org",
            npi=None,
        )
        after = await every_item(zoom_client, auth, "/api/attendance-events/unmatched")
        credits = await _credits(zoom_client, ghost["token"])

    assert [(row["email"], row["reason"]) for row in unmatched] == [
        ("ghost@example.org", "no physician with email ghost@example.org")
    ]
    assert after == []
    assert [(a["minutes"], a["credits"]) for a in credits["awards"]] == [(60.0, {"AMA_PRA_1": 1.0})]


async def test_event_for_unknown_webinar_waits_for_the_series(
    zoom_client: TestClient, auth: dict[str, str]
) -> None:
    response = await deliver(
        zoom_client, participant("joined", "a@example.org", "A", "2026-11-02T11:30:00Z")
    )

    unmatched = await every_item(zoom_client, auth, "/api/attendance-events/unmatched")
    assert (await response.json()) == {"status": "unmatched"}
    assert unmatched[0]["reason"].startswith(f"no occurrence of Zoom webinar {WEBINAR} around")


async def test_occurrence_attendance_lists_each_attendee(
    zoom_client: TestClient, auth: dict[str, str]
) -> None:
    ctx = await _setup(zoom_client, auth)
    with time_machine.travel(DURING, tick=True):
        for payload in SEQUENCE:
            await deliver(zoom_client, payload)

    rows = await every_item(
        zoom_client, auth, f"/api/occurrences/{ctx['occurrence']['id']}/attendance"
    )

    assert [(r["last_name"], r["minutes"], r["credits"], r["final"]) for r in rows] == [
        ("Durand", 55.0, {"AMA_PRA_1": 1.0}, False),
        ("Martin", 35.0, {"AMA_PRA_1": 0.5}, False),
    ]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2027-03-01T11:30:00Z", datetime(2027, 3, 1, 11, 30, tzinfo=UTC)),
        ("2027-03-01T11:30:00.250Z", datetime(2027, 3, 1, 11, 30, 0, 250000, tzinfo=UTC)),
        ("2027-03-01T12:30:00+01:00", datetime(2027, 3, 1, 11, 30, tzinfo=UTC)),
        ("2027-03-01T11:30:00", datetime(2027, 3, 1, 11, 30, tzinfo=UTC)),
    ],
)
def test_participant_times_are_read_in_utc_whatever_their_shape(sent: str, read: datetime) -> None:
    event = to_event(_participant_event(sent), now=datetime(2027, 3, 2, tzinfo=UTC))

    assert event is not None
    assert (event.at, event.at.tzinfo) == (read, UTC)


@pytest.mark.parametrize(
    "sent", ["2027-03-01T11:30:00Zjunk", "not a time Z", "2027-02-30T10:00:00Z"]
)
def test_a_participant_time_that_is_no_time_is_refused(sent: str) -> None:
    with pytest.raises(ZoomPayloadError, match=r"participant\.join_time is not an ISO 8601 time"):
        to_event(_participant_event(sent))


def test_a_participant_time_in_the_future_is_refused() -> None:
    now = datetime(2027, 3, 1, 11, 24, 59, tzinfo=UTC)  # 5 min 1 s before the join

    with pytest.raises(ZoomPayloadError) as refused:
        to_event(_participant_event("2027-03-01T11:30:00Z"), now=now)

    assert str(refused.value) == (
        "participant.join_time is in the future (more than 5 minutes after this service's clock)"
    )


def test_a_participant_time_within_the_clock_skew_tolerance_is_read() -> None:
    now = datetime(2027, 3, 1, 11, 25, tzinfo=UTC)  # the join is 5 minutes ahead: a fast clock

    event = to_event(_participant_event("2027-03-01T11:30:00Z"), now=now)

    assert event is not None
    assert event.at == datetime(2027, 3, 1, 11, 30, tzinfo=UTC)


def test_an_ended_event_in_the_future_is_refused() -> None:
    ended = {
        "event": "webinar.ended",
        "event_ts": 1_900_000_000_000,
        "payload": {"object": {"id": "1"}},
    }

    with pytest.raises(ZoomPayloadError, match=r"^event_ts is in the future"):
        to_event(ended, now=datetime(2027, 3, 1, tzinfo=UTC))


def _participant_event(join_time: str) -> dict[str, Any]:
    return {
        "event": "webinar.participant_joined",
        "payload": {
            "object": {
                "id": "81234567890",
                "uuid": "instance==",
                "participant": {"participant_uuid": "J1", "join_time": join_time},
            }
        },
    }


async def test_a_signed_event_from_the_future_is_422_logged_and_not_stored(
    zoom_client: TestClient, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    ctx = await _setup(zoom_client, auth)
    ahead = participant("joined", "jeanne.durand@example.org", "J9", "2026-11-23T11:30:00Z")

    with time_machine.travel(DURING, tick=True):
        response = await deliver(zoom_client, ahead)
        summary = await _credits(zoom_client, ctx["jeanne"]["token"])

    assert response.status == 422
    assert [r.getMessage() for r in caplog.records if r.name == "tracker.http.api.attendance"] == [
        "refused a signed Zoom event webinar.participant_joined: participant.join_time is in "
        "the future (more than 5 minutes after this service's clock)"
    ]
    assert summary["awards"] == []
