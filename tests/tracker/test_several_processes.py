"""Two real service processes on one port and one PostgreSQL database, one of them killed with
SIGKILL in the middle of a join storm: every event is stored once, every credit is what the
same events give computed directly, and every certificate email is sent once."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from notifications.models import OutboxMessage
from tests.factories import create_physician, create_series, occurrences
from tests.processes import serve_logged, stop
from tests.smtp import SmtpServer, free_port
from tracker.adapters.zoom_webhook import sign, to_event
from tracker.db import Database
from tracker.domain.models import AttendanceEvent, Award, OccurrenceClosure
from tracker.services.ingestion import record, settle_occurrence

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

SECRET = "zoom-secret-token"
STORM, CALM, API = "81234567890", "89876543210", "80000000001"
API_BATCH = 4
PEOPLE = 24
#: From the series' creation to the end of both sessions (grace 0: then they are finalised).
#: Long enough for a loaded 2-core machine to start two processes and run the storm first.
LEAD = timedelta(seconds=30)


def participant(webinar: str, joined: bool, n: int, device: int, at: datetime) -> dict[str, Any]:
    field = "join_time" if joined else "leave_time"
    return {
        "event": f"webinar.participant_{'joined' if joined else 'left'}",
        "event_ts": 1,
        "payload": {
            "object": {
                "id": webinar,
                "uuid": f"instance-{webinar}",
                "participant": {
                    "email": f"p{n}@example.org",
                    "participant_uuid": f"{n}-{device}",
                    field: at.isoformat().replace("+00:00", "Z"),
                },
            }
        },
    }


def attendance(webinar: str, start: datetime) -> list[dict[str, Any]]:
    """Each person joins and leaves on one or two devices at times of their own; some never
    leave (the session's end closes their stay), some leave without a join."""
    rng = random.Random(2026)
    events = []
    for n in range(PEOPLE):
        for device in range(1 + n % 2):
            joined = start + timedelta(minutes=rng.randint(-10, 40))
            # Zoom sends a leave when it happens: none after the session's end, which is a
            # few seconds ahead of the clock here (a fact from the future is refused)
            left = min(joined + timedelta(minutes=rng.randint(1, 50)), start + timedelta(hours=1))
            events.append(participant(webinar, True, n, device, joined))
            if n % 7 != 3:
                events.append(participant(webinar, False, n, device, left))
        if n % 11 == 5:
            events.append(participant(webinar, False, n, 9, start + timedelta(minutes=20)))
    return events


async def deliver(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> str:
    """POST one signed event until it is answered 200, as Zoom retries one that got no answer
    (a killed process resets its connections)."""
    for _ in range(100):
        body = json.dumps(payload).encode()
        timestamp = str(int(time.time()))
        headers = {
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(SECRET, timestamp, body),
            "Content-Type": "application/json",
        }
        try:
            async with http.post(url, data=body, headers=headers) as response:
                if response.status == 200:
                    status: str = (await response.json())["status"]
                    return status
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer for {payload}")


def api_events(occurrence_id: int, start: datetime) -> list[dict[str, Any]]:
    """The same attendance as ``POST /api/attendance-events`` items."""
    items = []
    for payload in attendance(API, start):
        who = payload["payload"]["object"]["participant"]
        kind = "join" if payload["event"].endswith("joined") else "leave"
        at = who[f"{kind}_time"]
        items.append(
            {
                "event_id": f"{who['participant_uuid']}-{kind}-{at}",
                "occurrence_id": occurrence_id,
                "email": who["email"],
                "kind": kind,
                "at": at,
                "connection_id": who["participant_uuid"],
            }
        )
    return items


async def deliver_batch(
    http: aiohttp.ClientSession, url: str, batch: list[dict[str, Any]], auth: dict[str, str]
) -> dict[str, int]:
    """POST one attendance batch until it is answered 202 (retrying a reset connection)."""
    for _ in range(100):
        try:
            async with http.post(url, json=batch, headers=auth) as response:
                if response.status == 202:
                    counts: dict[str, int] = await response.json()
                    return counts
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer for {batch}")


async def _awards(database: Database, occurrence_id: int) -> dict[int, tuple[int, str, bool]]:
    async with database.session() as session:
        rows = (await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))).all()
    return {
        row.physician_id: (row.seconds, json.dumps(row.credits, sort_keys=True), row.final)
        for row in rows
    }


async def _progress(database: Database) -> tuple[int, int, int]:
    """(complete closures, certificate emails queued, emails sent)."""
    async with database.session() as session:
        closed = (
            await session.exec(
                select(func.count())
                .select_from(OccurrenceClosure)
                .where(col(OccurrenceClosure.completed_at).is_not(None))
            )
        ).one()
        by_status = dict(
            (
                await session.exec(
                    select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
                )
            ).all()
        )
        queued = sum(by_status.values())
    return int(closed), int(queued), int(by_status.get("sent", 0))


def _posts(log: Path) -> tuple[int, int]:
    """(webhooks, attendance batches) this process answered, from its access log."""
    lines = log.read_text().splitlines()
    return (
        sum("POST /webhooks/zoom" in line for line in lines),
        sum("POST /api/attendance-events" in line for line in lines),
    )


async def test_two_processes_on_one_port_lose_nothing_and_repeat_nothing_when_one_is_killed(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    database_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    ids = [
        (await create_physician(client, auth, email=f"P{n}@example.org", npi=None))["id"]
        for n in range(PEOPLE)
    ]
    end = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    start = end - timedelta(hours=1)
    occurrence_of = {}
    for webinar in (STORM, CALM, API):
        series = await create_series(
            client,
            auth,
            title=f"Webinar {webinar}",
            timezone="UTC",
            start=start.replace(tzinfo=None).isoformat(),
            duration_minutes=60,
            rrule=None,
            min_attendance_percent=50,
            zoom_webinar_id=webinar,
        )
        for pid in ids:
            response = await client.post(
                f"/api/series/{series['id']}/registrations",
                json={"physician_id": pid},
                headers=auth,
            )
            assert response.status in (200, 201), await response.text()
        occurrence_of[webinar] = (await occurrences(client, auth, series["id"]))[0]["id"]
    # The calm session: the same attendance, recorded and computed here, one transaction.
    calm = [event for payload in attendance(CALM, start) if (event := to_event(payload))]
    await record(database, calm)
    await settle_occurrence(database, occurrence_of[CALM])

    port = free_port()
    settings = {
        "database_url": database_url,
        "port": str(port),
        "zoom_webhook_secret": SECRET,
        "smtp_url": smtp_server.url,
        "mail_rate": "0",
        "credit_grace_minutes": "0",
        "scheduler": "on",
        # a line per webhook: which process answered which is counted from the logs, the one
        # killed mid-storm included (counted a second at a time, its last second is lost)
        "access_log_webhooks": "per-request",
    }
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first, second = (serve_logged(log, tmp_path, "--reuse-port", **settings) for log in logs)
    processes = [first, second]
    storm = attendance(STORM, start)
    again = storm[::4]  # Zoom's own retries: a quarter of the events twice
    deliveries = storm + again
    random.Random(8).shuffle(deliveries)
    items = api_events(occurrence_of[API], start)
    batches = [items[i : i + API_BATCH] for i in range(0, len(items), API_BATCH)]
    batches += batches[::4]  # a client's own retries: a quarter of the batches twice
    random.Random(9).shuffle(batches)
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_both_listen(port, logs)
        answered: list[str] = []
        batch_answers: list[dict[str, int]] = []
        killed_after = -1
        total = len(deliveries) + len(batches)
        gate = asyncio.Semaphore(12)
        # a new connection per request: the kernel spreads them over both processes
        connector = aiohttp.TCPConnector(force_close=True)
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

            def done() -> None:
                nonlocal killed_after
                count = len(answered) + len(batch_answers)
                if count >= total // 3 and killed_after < 0:
                    killed_after = count
                    first.send_signal(signal.SIGKILL)  # mid-storm: requests in flight

            async def one(payload: dict[str, Any]) -> None:
                async with gate:
                    answered.append(await deliver(http, f"{base}/webhooks/zoom", payload))
                done()

            async def many(batch: list[dict[str, Any]]) -> None:
                async with gate:
                    url = f"{base}/api/attendance-events"
                    batch_answers.append(await deliver_batch(http, url, batch, auth))
                done()

            sends = [one(payload) for payload in deliveries] + [many(batch) for batch in batches]
            random.Random(10).shuffle(sends)  # webhooks and batches interleaved
            await asyncio.gather(*sends)
        stormed = datetime.now(UTC)
        first.wait(timeout=10)
        posts = [_posts(log) for log in logs]
        assert stormed < end, f"the storm ended {stormed - end} after the sessions"

        expected_certificates = 3 * sum(
            1
            for seconds, credits, _ in (await _awards(database, occurrence_of[CALM])).values()
            if any(v > 0 for v in json.loads(credits).values())
        )
        deadline = time.monotonic() + (end - datetime.now(UTC)).total_seconds() + 90
        while time.monotonic() < deadline:
            closed, queued, sent = await _progress(database)
            if closed == 3 and sent == queued == expected_certificates:
                break
            await asyncio.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                stop(process)

    async with database.session() as session:
        stored = dict(
            (
                await session.exec(
                    select(AttendanceEvent.zoom_webinar_id, func.count()).group_by(
                        col(AttendanceEvent.zoom_webinar_id)
                    )
                )
            ).all()
        )
        outbox = (await session.exec(select(OutboxMessage))).all()
    storm_awards = await _awards(database, occurrence_of[STORM])
    api_awards = await _awards(database, occurrence_of[API])
    calm_awards = await _awards(database, occurrence_of[CALM])

    # both processes took part before the kill, the survivor after it
    assert 0 < killed_after < total
    assert first.returncode == -signal.SIGKILL
    # the kernel chose the process of each connection: the killed one took webhooks at least
    (killed_webhooks, _killed_batches), (webhooks, batches_answered) = posts
    assert killed_webhooks > 0 and webhooks > 0 and batches_answered > 0, posts
    # every event once (the retried and twice-sent ones too)
    statuses = Counter(answered)
    assert sum(statuses.values()) == len(deliveries)
    assert statuses["duplicate"] >= len(again)  # more where a killed process stored, unanswered
    assert stored == {STORM: len(storm), CALM: len(calm), None: len(items)}
    assert len(batch_answers) == len(batches)
    assert sum(a["accepted"] for a in batch_answers) <= len(items)  # less where killed, unanswered
    # every credit right: what the same events give computed directly, and final
    assert len(storm_awards) == PEOPLE
    assert storm_awards == calm_awards
    assert api_awards == calm_awards
    assert {final for _, _, final in storm_awards.values()} == {True}
    assert len({seconds for seconds, _, _ in storm_awards.values()}) > 5  # not all alike
    # every email once: each certificate queued once, sent once
    assert (closed, queued, sent) == (3, expected_certificates, expected_certificates)
    assert expected_certificates > 10
    assert {row.kind for row in outbox} == {"certificate"}
    received = Counter(smtp_server.recorder.message_ids())
    assert set(received) == {row.message_id for row in outbox}
    assert set(received.values()) == {1}


async def _until_both_listen(port: int, logs: list[Path], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all("Running on" in log.read_text() for log in logs if log.exists()) and all(
            log.exists() for log in logs
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the two processes did not listen on {port} within {within} s")
