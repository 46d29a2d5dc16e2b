"""Attendance ingestion: acknowledged events are stored once and durably, their awards follow
behind the answer (resumed after a kill), and a concurrent storm gives the credits that the same
events give one by one."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import time_machine
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import col, func, select

from tests.factories import create_physician, create_series, occurrences
from tests.processes import serve, stop
from tests.smtp import free_port
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.attendance import (
    claim_pending,
    finish_pending,
    mark_pending,
    pending_count,
)
from tracker.domain.models import AttendanceEvent, Award, AwardPending
from tracker.settings import Settings

SECRET = "zoom-secret-token"
STORM_WEBINAR, CALM_WEBINAR = "81234567890", "89876543210"


def participant(
    webinar: str, joined: bool, email: str, connection: str, at: datetime
) -> dict[str, Any]:
    field = "join_time" if joined else "leave_time"
    return {
        "event": f"webinar.participant_{'joined' if joined else 'left'}",
        "event_ts": 1,
        "payload": {
            "object": {
                "id": webinar,
                "uuid": f"instance-{webinar}",
                "participant": {
                    "email": email,
                    "participant_uuid": connection,
                    field: at.isoformat().replace("+00:00", "Z"),
                },
            }
        },
    }


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    return body, {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(SECRET, timestamp, body),
        "Content-Type": "application/json",
    }


# A kill between the answer and the projection ----------------------------------------------------


async def _until_healthy(base: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base} did not answer within {within} s")


async def _count(database: Database, model: Any) -> int:
    async with database.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def _until_nothing_pending(database: Database, within: float = 30) -> None:
    """Poll the real process's progress (it runs on the real clock)."""
    for _ in range(int(within / 0.1)):
        if not await _count(database, AwardPending):
            return
        await asyncio.sleep(0.1)


async def _awards(database: Database) -> dict[int, tuple[int, dict[str, float], bool]]:
    async with database.session() as session:
        rows = (await session.exec(select(Award))).all()
    return {row.physician_id: (row.seconds, row.credits, row.final) for row in rows}


async def test_events_acknowledged_then_killed_before_projection_get_their_credits_after_restart(
    client: TestClient, auth: dict[str, str], database: Database, database_url: str, tmp_path: Path
) -> None:
    """The first process answers 200 and is killed with SIGKILL before any award is computed
    (it runs no projector); the next start finds the pending awards and computes them."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    await create_series(
        client,
        auth,
        timezone="UTC",
        start=start.replace(tzinfo=None).isoformat(),
        rrule=None,
        min_attendance_percent=50,
        zoom_webinar_id=STORM_WEBINAR,
    )
    jeanne = await create_physician(client, auth)
    paul = await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
    )
    minute = timedelta(minutes=1)
    facts = [
        (True, "Jeanne.Durand@example.org", "J1", start - 5 * minute),
        (False, "jeanne.durand@example.org", "J1", start + 20 * minute),
        (True, "jeanne.durand@example.org", "J1", start + 25 * minute),
        (False, "jeanne.durand@example.org", "J1", start + 70 * minute),
        (True, "paul@example.org", "P1", start),
        (True, "paul@example.org", "P2", start + 10 * minute),
        (False, "paul@example.org", "P1", start + 30 * minute),
        (False, "paul@example.org", "P2", start + 35 * minute),
    ]
    port = free_port()
    settings = {
        "database_url": database_url,
        "zoom_webhook_secret": SECRET,
        "credit_grace_minutes": str(7 * 24 * 60),  # not final yet: the projector's work alone
        "maildir": str(tmp_path / "mail"),
        "port": str(port),
    }
    first = serve(tmp_path, scheduler="off", **settings)  # answers, projects nothing
    try:
        await _until_healthy(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http:
            answers = []
            for fact in facts:
                body, headers = signed(participant(STORM_WEBINAR, *fact))
                url = f"http://127.0.0.1:{port}/webhooks/zoom"
                async with http.post(url, data=body, headers=headers) as response:
                    answers.append((response.status, await response.json()))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    stored, pending = await _count(database, AttendanceEvent), await _count(database, AwardPending)
    before = await _awards(database)

    second = serve(tmp_path, scheduler="on", **settings)
    try:
        await _until_nothing_pending(database)
        after = await _awards(database)
    finally:
        stop(second)

    assert answers == [(200, {"status": "accepted"})] * len(facts)
    assert (stored, pending, before) == (len(facts), 2, {})
    assert after == {
        jeanne["id"]: (55 * 60, {"AMA_PRA_1": 1.0}, False),
        paul["id"]: (35 * 60, {"AMA_PRA_1": 0.5}, False),
    }


# A storm of concurrent webhooks --------------------------------------------------------------------

DURING = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # after both sessions, before their grace ends


@pytest.fixture
async def zoom_client(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)}))
    yield await aiohttp_client(app)


def _attendance(webinar: str, start: datetime, people: int) -> list[dict[str, Any]]:
    """Each person joins and leaves on one or two devices at times of their own, some leave
    without a join, some never leave; then the platform ends the session."""
    rng = random.Random(2026)
    events = []
    for n in range(people):
        email = f"p{n}@example.org"
        for device in range(1 + n % 2):
            joined = start + timedelta(minutes=rng.randint(-10, 40))
            left = joined + timedelta(minutes=rng.randint(1, 50))
            events.append(participant(webinar, True, email, f"{n}-{device}", joined))
            if n % 7 != 3:
                events.append(participant(webinar, False, email, f"{n}-{device}", left))
        if n % 11 == 5:
            stray = start + timedelta(minutes=rng.randint(0, 50))
            events.append(participant(webinar, False, email, f"{n}-stray", stray))
    end = start + timedelta(minutes=55)
    events.append(
        {
            "event": "webinar.ended",
            "event_ts": 1,
            "payload": {
                "object": {
                    "id": webinar,
                    "uuid": f"instance-{webinar}",
                    "end_time": end.isoformat(),
                }
            },
        }
    )
    return events


async def _deliver(client: TestClient, payload: dict[str, Any]) -> str:
    body, headers = signed(payload)
    response = await client.post("/webhooks/zoom", data=body, headers=headers)
    assert response.status == 200, await response.text()
    status: str = (await response.json())["status"]
    return status


async def test_a_storm_of_concurrent_webhooks_is_stored_once_with_the_credits_of_one_by_one(
    zoom_client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """The same attendance at two sessions: one delivered as a storm (every event twice, all
    at once), the other one event at a time in a shuffled order. Every event is stored once
    and every physician has the same minutes and credits at both."""
    people = 40
    calm_start, storm_start = (
        datetime(2026, 11, 2, 11, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 12, 30, tzinfo=UTC),
    )
    for webinar, start in ((CALM_WEBINAR, calm_start), (STORM_WEBINAR, storm_start)):
        await create_series(
            zoom_client,
            auth,
            title=f"Webinar {webinar}",
            timezone="UTC",
            start=start.replace(tzinfo=None).isoformat(),
            rrule=None,
            min_attendance_percent=25,
            zoom_webinar_id=webinar,
        )
    ids = [
        (await create_physician(zoom_client, auth, email=f"P{n}@example.org", npi=None))["id"]
        for n in range(people)
    ]
    calm = _attendance(CALM_WEBINAR, calm_start, people)
    random.Random(7).shuffle(calm)
    storm = _attendance(STORM_WEBINAR, storm_start, people) * 2
    random.Random(8).shuffle(storm)

    with time_machine.travel(DURING, tick=True):
        calm_statuses = [await _deliver(zoom_client, payload) for payload in calm]
        storm_statuses = await asyncio.gather(
            *(_deliver(zoom_client, payload) for payload in storm)
        )
        summaries = [
            await (await zoom_client.get(f"/api/physicians/{pid}/credits", headers=auth)).json()
            for pid in ids
        ]
    async with database.session() as session:
        stored = (
            await session.exec(
                select(AttendanceEvent.zoom_webinar_id, func.count()).group_by(
                    col(AttendanceEvent.zoom_webinar_id)
                )
            )
        ).all()

    assert set(calm_statuses) == {"accepted"}
    assert sorted(storm_statuses) == sorted(["accepted", "duplicate"] * len(calm))
    assert dict(stored) == {CALM_WEBINAR: len(calm), STORM_WEBINAR: len(calm)}
    credits = {
        (summary["physician_id"], award["series_title"][-11:]): (award["minutes"], award["credits"])
        for summary in summaries
        for award in summary["awards"]
    }
    assert len(credits) == 2 * people
    assert {pid: credits[(pid, STORM_WEBINAR)] for pid in ids} == {
        pid: credits[(pid, CALM_WEBINAR)] for pid in ids
    }
    assert len({minutes for minutes, _ in credits.values()}) > 5  # not all alike: a real check


# Pending awards: a fact stored while its award is computed is not forgotten ----------------------


async def test_a_fact_stored_while_its_award_is_computed_leaves_it_pending(
    database: Database, client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth, rrule=None)
    (occurrence,) = await occurrences(client, auth, series["id"])
    physician = await create_physician(client, auth)
    pair = (occurrence["id"], physician["id"])
    now = datetime.now(UTC)
    async with database.session() as session:
        await mark_pending(session, [pair])
        await session.commit()
    async with database.session() as session:
        claimed = await claim_pending(
            session, owner="a", now=now, lease=timedelta(minutes=2), limit=10
        )
        again = await claim_pending(  # held by "a": nobody else gets it
            session, owner="b", now=now, lease=timedelta(minutes=2), limit=10
        )
        await session.commit()
    async with database.session() as session:  # a new fact for the same award meanwhile
        await mark_pending(session, [pair])
        await session.commit()
    async with database.session() as session:
        await finish_pending(session, claimed, owner="a")
        await session.commit()
        left = await pending_count(session, physician_id=physician["id"])
        reclaimed = await claim_pending(
            session, owner="b", now=now, lease=timedelta(minutes=2), limit=10
        )
        await finish_pending(session, reclaimed, owner="b")
        await session.commit()
        finally_left = await pending_count(session)

    assert [(c.occurrence_id, c.physician_id) for c in claimed] == [pair]
    assert (again, left, len(reclaimed), finally_left) == ([], 1, 1, 0)


async def test_migration_0009_adds_and_removes_the_pending_awards(database: Database) -> None:
    from alembic import command

    from tracker.migrate import alembic_config, upgrade

    def downgrade(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")

    def tables(connection: Any) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(connection).get_table_names())

    async with database.engine.begin() as connection:
        await connection.run_sync(downgrade)
    async with database.engine.connect() as connection:
        without = await connection.run_sync(tables)
    await upgrade(database.url)
    async with database.engine.connect() as connection:
        with_it = await connection.run_sync(tables)
        rows = (await connection.execute(text("SELECT count(*) FROM award_pending"))).scalar()

    assert ("award_pending" in without, "award_pending" in with_it, rows) == (False, True, 0)
