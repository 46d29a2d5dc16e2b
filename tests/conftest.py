"""Shared fixtures: a migrated database per test on SQLite and on the real PostgreSQL server.

Each test gets a fresh copy of a migrated template (a file copy for SQLite, ``CREATE DATABASE
... TEMPLATE`` for PostgreSQL), so tests never see each other's rows and migrations run once.
Outside CI an unreachable PostgreSQL skips its half of the tests; under ``CI=true`` it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tracker.app import create_app
from tracker.db import Database
from tracker.migrate import upgrade
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

PG_HOST = os.environ.get("TRACKER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRACKER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TRACKER_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _pg_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {reason}")


@pytest.fixture(autouse=True)
def _no_tracker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own TRACKER_* variables must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("TRACKER_") and not name.startswith("TRACKER_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tracker.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"tracker_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _pg_unavailable(str(exc))
    try:
        asyncio.run(upgrade(pg_url(name)))
        yield name
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes a database runs on both engines, unless its module says the engine
    is not its point (``pytestmark = pytest.mark.any_engine``: page rendering, message
    composition, formats): those run on SQLite alone."""
    if "database_url" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "database_url" in str(mark.args[0]):  # the test chose its engines itself
            return
    one = metafunc.definition.get_closest_marker("any_engine") is not None
    metafunc.parametrize("database_url", ["sqlite"] if one else ENGINES, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for this test only."""
    if request.param == "sqlite":
        path = tmp_path / "tracker.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        database_url=database_url,
        scheduler="off",
        base_url="https://cme.example.org",
        maildir=tmp_path / "mail",
        provider_name="Institut du Numérique en Santé",
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.close()


@pytest.fixture
async def client(aiohttp_client: object, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))  # type: ignore[operator, no-any-return]


@pytest.fixture
async def organizer_token(database: Database) -> str:
    _, token = await create_organizer(database, name="Camille Martin", email="camille@example.org")
    return token


@pytest.fixture
def auth(organizer_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {organizer_token}"}


@pytest.fixture
def smtp_server() -> Iterator[object]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, asking for login mailer / s3cret."""
    from tests.smtp import run_server

    yield from run_server()


@pytest.fixture
async def scheduler() -> AsyncIterator[object]:
    """A running APScheduler, paused so that nothing fires during the test."""
    from datetime import UTC

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    running = AsyncIOScheduler(timezone=UTC)
    running.start(paused=True)
    yield running
    running.shutdown(wait=False)
