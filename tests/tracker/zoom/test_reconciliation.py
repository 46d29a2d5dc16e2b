"""Zoom account integration end to end (SPEC 8), through the real app, against the local fake
Zoom: lost webhooks are made good by the report, registrant ids tell apart namesakes with
hidden emails, runs are recorded, and nothing reaches the network. Both engines."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlmodel import col, select

from tests.factories import create_physician, create_series, occurrences
from tests.zoom_fake import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, loopback_only
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import (
    AttendanceEvent,
    Award,
    Certificate,
    ZoomReconciliation,
    ZoomRegistrant,
)
from tracker.services import zoom as zoom_service
from tracker.services.context import load_services
from tracker.services.finalisation import Lease, finalise_session
from tracker.settings import Settings
from tracker.zoom import client_for
from tracker.zoom.client import forget_tokens

__all__ = ["loopback_only"]

SECRET = "zoom-webhook-secret"
WEBINAR = "81234567890"
#: The series' first session: Monday 1 March 2027, 12:30 Paris (11:30 UTC), one hour.
START = datetime(2027, 3, 1, 11, 30, tzinfo=UTC)
AFTER = START + timedelta(hours=2, minutes=30)
INSTANCE = "/ajXp112QmuoKj4854875=="  # starts with "/": encoded twice


@pytest.fixture
async def fake(
    aiohttp_server: Any, loopback_only: list[Any]
) -> AsyncIterator[tuple[FakeZoom, TestServer]]:
    forget_tokens()
    zoom = FakeZoom()
    server = await aiohttp_server(zoom.app())
    zoom.instances[WEBINAR] = [
        (INSTANCE, "2027-03-01T11:29:48Z"),
        ("nextweek==", "2027-03-08T11:30:02Z"),
    ]
    yield zoom, server
    forget_tokens()


@pytest.fixture
def zoom_settings(settings: Settings, fake: tuple[FakeZoom, TestServer]) -> Settings:
    _, server = fake
    return settings.model_copy(
        update={
            "zoom_webhook_secret": SecretStr(SECRET),
            "zoom_account_id": ACCOUNT,
            "zoom_client_id": CLIENT_ID,
            "zoom_client_secret": SecretStr(CLIENT_SECRET),
            "zoom_api_url": str(server.make_url("/v2")),
            "zoom_oauth_url": str(server.make_url("/oauth/token")),
        }
    )


@pytest.fixture
async def app_client(aiohttp_client: Any, zoom_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(zoom_settings))  # type: ignore[no-any-return]


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def webhook(
    joined: bool,
    at: datetime,
    *,
    connection: str,
    email: str,
    name: str,
    registrant: str | None = None,
) -> dict[str, Any]:
    participant: dict[str, Any] = {
        "user_id": connection,
        "participant_uuid": f"uuid-{connection}",
        "user_name": name,
        "email": email,
        ("join_time" if joined else "leave_time"): z(at),
    }
    if registrant:
        participant["registrant_id"] = registrant
    return {
        "event": f"webinar.participant_{'joined' if joined else 'left'}",
        "event_ts": int(at.timestamp() * 1000),
        "payload": {
            "account_id": "acct",
            "object": {"id": WEBINAR, "uuid": INSTANCE, "participant": participant},
        },
    }


def report_row(
    join: datetime,
    leave: datetime,
    *,
    user_id: str,
    email: str,
    name: str,
    registrant: str | None = None,
) -> dict[str, Any]:
    return {
        "id": "",
        "user_id": user_id,
        "name": name,
        "user_email": email,
        "join_time": z(join),
        "leave_time": z(leave),
        "duration": int((leave - join).total_seconds()),
        "registrant_id": registrant or "",
        "status": "in_meeting",
    }


async def deliver(client: TestClient, payload: dict[str, Any]) -> str:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    response = await client.post(
        "/webhooks/zoom",
        data=body,
        headers={
            "x-zm-request-timestamp": stamp,
            "x-zm-signature": sign(SECRET, stamp, body),
            "Content-Type": "application/json",
        },
    )
    assert response.status == 200, await response.text()
    return str((await response.json())["status"])


async def awards(database: Database, occurrence_id: int) -> dict[int, tuple[int, dict[str, float]]]:
    async with database.session() as session:
        rows = (await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))).all()
    return {a.physician_id: (a.seconds, a.credits) for a in rows}


async def reconcile(
    database: Database, settings: Settings, occurrence_id: int
) -> zoom_service.Outcome:
    services = await load_services(database, settings)
    client = client_for(settings)
    assert client is not None
    async with client:
        return await zoom_service.reconcile_now(services, client, occurrence_id)


#: Two stays each: 11:30-11:40 and 12:20-12:30 UTC (20 minutes: 0.25 credit).
STAYS = [
    (START, START + timedelta(minutes=10)),
    (START + timedelta(minutes=50), START + timedelta(hours=1)),
]


async def test_a_session_missing_half_its_webhooks_ends_with_the_credits_of_one_with_all(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
    loopback_only: list[Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    people = {
        key: await create_physician(
            app_client, auth, email=f"{key}@example.org", npi=None, first_name=key
        )
        for key in ("all", "half", "none")
    }
    events: dict[str, list[dict[str, Any]]] = {}
    for key in people:
        events[key] = [
            webhook(
                joined, at, connection=f"{key}-{n}", email=f"{key.upper()}@Example.org", name=key
            )
            for n, (join, leave) in enumerate(STAYS)
            for joined, at in ((True, join), (False, leave))
        ]
    delivered = events["all"] + [events["half"][0], events["half"][3]]  # the middle two lost
    zoom.reports[INSTANCE] = [
        report_row(join, leave, user_id=f"{key}-{n}", email=f"{key}@example.org", name=key)
        for key in people
        for n, (join, leave) in enumerate(STAYS)
    ]

    with time_machine.travel(AFTER, tick=True):
        assert {await deliver(app_client, p) for p in delivered} == {"accepted"}
        page = await app_client.get(f"/api/occurrences/{first['id']}/attendance", headers=auth)
        assert page.status == 200
        before = await awards(database, first["id"])
        outcome = await reconcile(database, zoom_settings, first["id"])
        after = await awards(database, first["id"])
        again = await reconcile(database, zoom_settings, first["id"])
        settled = await awards(database, first["id"])

    ids = {key: p["id"] for key, p in people.items()}
    assert before[ids["all"]] == (1200, {"AMA_PRA_1": 0.25})
    assert before[ids["half"]] == (3600, {"AMA_PRA_1": 1.0})  # the lost leave counted to the end
    assert ids["none"] not in before
    assert outcome.reason is None and (outcome.rows, outcome.added) == (6, 12)
    assert after == {pid: (1200, {"AMA_PRA_1": 0.25}) for pid in ids.values()}
    assert (again.reason, again.rows, again.added) == (None, 6, 0)
    assert settled == after
    report_calls = [s for s in zoom.seen if s.raw_path.endswith("/participants")]
    assert {s.raw_path for s in report_calls} == {
        "/v2/report/webinars/%252FajXp112QmuoKj4854875%253D%253D/participants"
    }
    assert {a[0] for a in loopback_only} == {"127.0.0.1"}


async def test_namesakes_with_hidden_emails_are_credited_by_registrant_id(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    early = await create_physician(
        app_client,
        auth,
        email="martin.a@example.org",
        npi=None,
        first_name="Marie",
        last_name="Martin",
    )
    late = await create_physician(
        app_client,
        auth,
        email="martin.b@example.org",
        npi=None,
        first_name="Marie",
        last_name="Martin",
    )
    for person in (early, late):
        response = await app_client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": person["id"]},
            headers=auth,
        )
        assert response.status == 201
    services = await load_services(database, zoom_settings)
    client = client_for(zoom_settings)
    assert client is not None
    async with client:
        synced = await zoom_service.sync_registrants(services, client)
    async with database.session() as session:
        registrants = {
            r.physician_id: r for r in (await session.exec(select(ZoomRegistrant))).all()
        }
    assert (synced.added, synced.failed) == (2, 0)
    rid = {pid: registrants[pid].registrant_id for pid in (early["id"], late["id"])}
    assert all(rid.values()) and len(set(rid.values())) == 2
    # The early one stays the whole hour, the late one the last 15 minutes; Zoom hides both
    # addresses and shows the same name.
    with time_machine.travel(AFTER, tick=True):
        for joined, at, who in (
            (True, START, early),
            (False, START + timedelta(hours=1), early),
            (True, START + timedelta(minutes=45), late),
            (False, START + timedelta(hours=1), late),
        ):
            status = await deliver(
                app_client,
                webhook(
                    joined,
                    at,
                    connection=f"c{who['id']}",
                    email="",
                    name="Marie Martin",
                    registrant=rid[who["id"]],
                ),
            )
            assert status == "accepted"
        zoom.reports[INSTANCE] = [
            report_row(
                START,
                START + timedelta(hours=1),
                user_id="x1",
                email="m***@example.org",
                name="Marie Martin",
                registrant=rid[early["id"]],
            ),
            report_row(
                START + timedelta(minutes=45),
                START + timedelta(hours=1),
                user_id="x2",
                email="",
                name="Marie Martin",
                registrant=rid[late["id"]],
            ),
        ]
        outcome = await reconcile(database, zoom_settings, first["id"])
        credited = await awards(database, first["id"])

    assert outcome.reason is None
    assert credited == {
        early["id"]: (3600, {"AMA_PRA_1": 1.0}),
        late["id"]: (900, {"AMA_PRA_1": 0.25}),
    }
    async with database.session() as session:
        unmatched = (
            await session.exec(
                select(AttendanceEvent).where(col(AttendanceEvent.physician_id).is_(None))
            )
        ).all()
    assert unmatched == []


async def test_a_failed_reconciliation_is_recorded_with_its_reason_and_a_retry_succeeds(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    zoom.failures["participants"] = [(500, None)] * 5
    with time_machine.travel(AFTER, tick=True):
        services = await load_services(database, zoom_settings)
        client = client_for(zoom_settings)
        assert client is not None
        waits: list[float] = []

        async def no_wait(seconds: float) -> None:
            waits.append(seconds)

        client._sleep = no_wait  # the backoff's waits, without waiting
        async with client:
            failed = await zoom_service.plan_and_run(services, client)
        zoom.reports[INSTANCE] = []
        retried = await reconcile(database, zoom_settings, first["id"])
    async with database.session() as session:
        runs = (
            await session.exec(select(ZoomReconciliation).order_by(col(ZoomReconciliation.id)))
        ).all()

    assert [o.reason for o in failed] == [
        "Zoom answered 500 Internal error to GET "
        "/report/webinars/%252FajXp112QmuoKj4854875%253D%253D/participants (5 attempts)"
    ]
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert [(r.round, r.status) for r in runs] == [
        ("1h", "failed"),
        ("24h", "due"),
        (runs[2].round, "ok"),
    ]
    assert runs[2].round.startswith("manual:")
    assert runs[0].reason == failed[0].reason
    assert retried.reason is None


async def test_a_final_award_changed_by_the_report_reissues_its_certificate(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    person = await create_physician(app_client, auth, email="half@example.org", npi=None)
    # Only the first join arrived: the session counts to its end (1 credit) until the report
    # says the physician left after 50 minutes (0.75).
    zoom.reports[INSTANCE] = [
        report_row(
            START, START + timedelta(minutes=50), user_id="1", email="half@example.org", name="H"
        )
    ]
    services = await load_services(database, zoom_settings)
    late = START + timedelta(hours=1, minutes=95)

    with time_machine.travel(late, tick=True):
        await deliver(
            app_client, webhook(True, START, connection="1", email="half@example.org", name="H")
        )
        assert await finalise_session(
            database,
            services.mail,
            first["id"],
            now=late,
            grace=timedelta(minutes=90),
            lease=Lease(owner="test"),
        )
        before = await awards(database, first["id"])
        outcome = await reconcile(database, zoom_settings, first["id"])
        after = await awards(database, first["id"])
    async with database.session() as session:
        issued = (await session.exec(select(Certificate).order_by(col(Certificate.version)))).all()

    assert before == {person["id"]: (3600, {"AMA_PRA_1": 1.0})}
    assert outcome.reason is None
    assert after == {person["id"]: (3000, {"AMA_PRA_1": 0.75})}
    assert [(c.version, c.credits) for c in issued] == [
        (1, {"AMA_PRA_1": 1.0}),
        (2, {"AMA_PRA_1": 0.75}),
    ]


async def test_planned_rounds_run_once_whatever_the_number_of_runners(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    zoom.reports[INSTANCE] = [
        report_row(
            START, START + timedelta(minutes=30), user_id="1", email="x@example.org", name="X"
        )
    ]
    services = await load_services(database, zoom_settings)
    clients = [client_for(zoom_settings) for _ in range(3)]

    with time_machine.travel(START + timedelta(hours=2, minutes=1), tick=True):
        results = await asyncio.gather(
            *(zoom_service.plan_and_run(services, c) for c in clients if c is not None)
        )
        again = await zoom_service.plan_and_run(services, clients[0])  # type: ignore[arg-type]
    with time_machine.travel(START + timedelta(hours=25, minutes=1), tick=True):
        day_after = await zoom_service.plan_and_run(services, clients[0])  # type: ignore[arg-type]
    for c in clients:
        assert c is not None
        await c.close()
    async with database.session() as session:
        runs = (
            await session.exec(select(ZoomReconciliation).order_by(col(ZoomReconciliation.id)))
        ).all()

    ran = [o for outcomes in results for o in outcomes]
    assert [(o.occurrence_id, o.reason, o.added) for o in ran] == [(first["id"], None, 2)]
    assert again == []
    assert [(o.reason, o.rows, o.added) for o in day_after] == [(None, 1, 0)]
    assert [(r.round, r.status) for r in runs] == [("1h", "ok"), ("24h", "ok")]
    assert len([s for s in zoom.seen if s.raw_path.endswith("/participants")]) == 2
