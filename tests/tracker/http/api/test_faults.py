"""Faults: the database out of reach for a moment (503 with Retry-After, then recovery without a
restart), and a service process killed with SIGKILL during a storm of signed Zoom webhooks
(every event that was acknowledged is stored)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlmodel import select

from tests.conftest import _pg_admin, pg_url
from tests.factories import bearer, create_physician, create_series
from tests.processes import serve
from tests.smtp import free_port
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import AttendanceEvent
from tracker.http.keys import DATABASE
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

#: (method, path, who): a route of each kind, each reading the database.
ROUTES = [
    ("GET", "/healthz", "anyone"),
    ("GET", "/api/series", "organiser"),
    ("GET", "/api/series/1/occurrences", "organiser"),
    ("POST", "/api/physicians", "organiser"),
    ("GET", "/api/me/credits", "physician"),
    ("GET", "/calendar.ics", "anyone"),
    ("GET", "/feeds/{token}.ics", "anyone"),
    ("GET", "/", "anyone"),
]
API_ROUTES = {(method, path) for method, path, _ in ROUTES if path.startswith(("/api", "/healthz"))}


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        database_url=database_url,
        scheduler="off",
        base_url="https://cme.example.org",
        maildir=tmp_path / "mail",
    )


async def _answers(
    client: TestClient, headers: dict[str, dict[str, str]], token: str
) -> dict[Any, Any]:
    answers = {}
    for n, (method, path, who) in enumerate(ROUTES):
        body = {
            "first_name": "A",
            "last_name": "B",
            "email": f"p{n}-{uuid.uuid4().hex}@example.org",
        }
        url = path.replace("{token}", token)
        response = await client.request(method, url, headers=headers[who], json=body)
        await response.read()
        answers[(method, path)] = (
            response.status,
            response.headers.get("Retry-After"),
            response.content_type if (method, path) in API_ROUTES else "-",
        )
    return answers


async def _outage_then_recovery(
    client: TestClient, auth: dict[str, str], outage: Callable[[], Any]
) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any]]:
    await create_series(client, auth)
    physician = await create_physician(client, auth)
    headers = {"anyone": {}, "organiser": auth, "physician": bearer(physician["token"])}
    before = await _answers(client, headers, physician["token"])
    async with outage():
        during = await _answers(client, headers, physician["token"])
    after = await _answers(client, headers, physician["token"])
    return before, during, after


def _expected(status: int | None) -> dict[Any, Any]:
    """Every route's answer: its usual one, or ``status`` with Retry-After (problem+json on the
    API; pages and feeds are only held to the status here)."""
    usual = {"GET": 200, "POST": 201}
    return {
        (method, path): (
            status or usual[method],
            "5" if status else None,
            "-"
            if (method, path) not in API_ROUTES
            else ("application/problem+json" if status else "application/json"),
        )
        for method, path, _ in ROUTES
    }


@pytest.fixture
async def sqlite_client(
    aiohttp_client: Any, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[tuple[TestClient, Path]]:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(sqlite_template, folder / "tracker.db")
    app = create_app(_settings(f"sqlite+aiosqlite:///{folder / 'tracker.db'}", tmp_path))
    yield await aiohttp_client(app), folder


async def _organiser(database: Database) -> dict[str, str]:
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    return bearer(token)


async def test_sqlite_out_of_reach_is_503_with_retry_after_then_recovers(
    sqlite_client: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, folder = sqlite_client
    database = client.app[DATABASE]
    auth = await _organiser(database)

    @asynccontextmanager
    async def folder_gone() -> AsyncIterator[None]:
        """The database's folder is replaced by a file (an unmounted disk, a moved volume).

        SQLite keeps working on files it already holds open, so the pool is emptied first,
        as after any connection error: the next request has to open the file, and cannot.
        """
        await database.dispose()
        away = folder.with_name("data-away")
        folder.rename(away)
        folder.write_text("not a folder")
        try:
            yield
        finally:
            folder.unlink()
            away.rename(folder)

    before, during, after = await _outage_then_recovery(client, auth, folder_gone)
    logged = "\n".join(record.getMessage() for record in caplog.records)

    assert "phy_" not in logged  # the personal feed's path holds a token: never logged
    assert "database unreachable on GET /feeds/{token}.ics" in logged
    assert before == _expected(None)
    assert during == _expected(503)
    assert after == _expected(None)


@pytest.mark.postgres
async def test_postgresql_refusing_connections_is_503_with_retry_after_then_recovers(
    aiohttp_client: Any, pg_template: str, tmp_path: Path
) -> None:
    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        client = await aiohttp_client(create_app(_settings(pg_url(name), tmp_path)))
        auth = await _organiser(client.app[DATABASE])

        @asynccontextmanager
        async def refusing() -> AsyncIterator[None]:
            """Every connection of the service is cut, and the server refuses new ones."""
            await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await _pg_admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            try:
                yield
            finally:
                await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        before, during, after = await _outage_then_recovery(client, auth, refusing)
        await client.close()
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    assert before == _expected(None)
    assert during == _expected(503)
    assert after == _expected(None)


async def test_failing_query_that_is_not_about_reaching_the_database_is_still_500(
    client: TestClient, auth: dict[str, str]
) -> None:
    """A table gone is a bug (SQLite reports it as an OperationalError too): 500, no Retry-After."""
    physician = await create_physician(client, auth)
    async with client.app[DATABASE].engine.begin() as connection:
        await connection.execute(text("DROP TABLE award"))

    response = await client.get(f"/api/physicians/{physician['id']}/credits", headers=auth)

    assert (response.status, response.headers.get("Retry-After")) == (500, None)


# kill -9 during a storm of signed Zoom webhooks ----------------------------------------------

ZOOM_SECRET = "zoom-storm-secret"


def _serve(database_url: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return serve(
        cwd,
        database_url=database_url,
        zoom_webhook_secret=ZOOM_SECRET,
        scheduler="off",
        port=str(port),
    )


async def _until_healthy(http: aiohttp.ClientSession, url: str, *, within: float = 60) -> None:
    """Poll the real process's /healthz (it runs on the real clock, not a test's)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy within {within} s")


def _joined(uuid_: str) -> bytes:
    return json.dumps(
        {
            "event": "webinar.participant_joined",
            "event_ts": 1,
            "payload": {
                "object": {
                    "id": "81234567890",
                    "uuid": "storm==",
                    "participant": {
                        "email": f"{uuid_}@example.org",
                        "participant_uuid": uuid_,
                        "join_time": "2026-03-02T11:30:00Z",
                    },
                }
            },
        }
    ).encode()


class Storm:
    """Senders posting signed events back to back; the ids of those answered 2xx."""

    def __init__(self, http: aiohttp.ClientSession, url: str, *, enough: int) -> None:
        self.http, self.url = http, url
        self.acknowledged: list[str] = []
        self.enough, self._enough = asyncio.Event(), enough

    async def deliver(self, uuid_: str) -> int:
        body = _joined(uuid_)
        timestamp = str(int(time.time()))
        headers = {
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(ZOOM_SECRET, timestamp, body),
            "Content-Type": "application/json",
        }
        async with self.http.post(f"{self.url}/webhooks/zoom", data=body, headers=headers) as r:
            await r.read()
            if 200 <= r.status < 300:
                self.acknowledged.append(uuid_)
                if len(self.acknowledged) >= self._enough:
                    self.enough.set()
            return r.status

    async def sender(self, name: str) -> None:
        """Until the connection is refused (the process is gone)."""
        for n in itertools.count():
            try:
                await self.deliver(f"{name}-{n}")
            except (aiohttp.ClientError, ConnectionError):
                return


async def _stored(database: Database) -> set[str]:
    async with database.session() as session:
        rows = await session.exec(select(AttendanceEvent.connection_id))
        return {row for row in rows.all() if row is not None}


async def test_kill_9_during_a_webhook_storm_loses_no_acknowledged_event(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(database_url, port, tmp_path)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True)
        ) as http:
            await _until_healthy(http, url)
            storm = Storm(http, url, enough=150)
            senders = [asyncio.create_task(storm.sender(f"s{i}")) for i in range(8)]
            await asyncio.wait_for(storm.enough.wait(), timeout=120)
            first.send_signal(signal.SIGKILL)  # mid-storm: eight requests are in flight
            first.wait(timeout=10)
            await asyncio.wait_for(asyncio.gather(*senders), timeout=60)
            acknowledged = list(storm.acknowledged)
            second = _serve(database_url, port, tmp_path)
            try:
                await _until_healthy(http, url)
                after = await storm.deliver("after")
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)

    stored = await _stored(database)
    assert len(acknowledged) >= 150
    assert set(acknowledged) - stored == set()  # every event answered 2xx is stored
    assert (after, "after" in stored) == (200, True)  # the restarted service takes events
