"""schemathesis against the app's own /openapi.json: no 5xx, and every answer conforms to the
document (status codes, content types, headers, schemas), with a fixed seed and a bounded number
of examples per operation.

The app runs for real on a loopback port (schemathesis speaks HTTP; aiohttp has no ASGI/WSGI
entry point), in a thread with its own event loop, on SQLite. PostgreSQL is left out here: the
same handlers run on it in every other test, and the run would take twice as long.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from schemathesis.specs.openapi.checks import allow_header_conformance

from schedules.clock import utcnow
from tests.smtp import free_port
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.physicians import create_physician
from tracker.domain.schemas import PhysicianCreate
from tracker.http.openapi import build_openapi
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

SEED = 20261102
EXAMPLES = 25


class LiveApp:
    """The aiohttp app serving on 127.0.0.1 from a thread, until :meth:`stop`."""

    def __init__(self, app: web.Application, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._app, self._port = app, port
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=60)

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _tokens(url: str) -> tuple[str, str]:
    database = Database(url)
    try:
        async with database.session() as session:
            _, organiser = await create_organizer(
                database, name="Camille", email="camille@example.org"
            )
            _, physician = await create_physician(
                session,
                PhysicianCreate(first_name="Jeanne", last_name="Durand", email="j@example.org"),
                now=utcnow(),
            )
            await session.commit()
        return organiser, physician
    finally:
        await database.close()


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copyfile(sqlite_template, folder / "tracker.db")
    url = f"sqlite+aiosqlite:///{folder / 'tracker.db'}"
    organiser, physician = asyncio.run(_tokens(url))
    port = free_port()
    settings = Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        database_url=url,
        scheduler="off",
        base_url=f"http://127.0.0.1:{port}",
        maildir=folder / "mail",
        zoom_webhook_secret="zoom-secret",  # a str is read as SecretStr
        # schemathesis sends wrong credentials on purpose, far more than the failure limit;
        # the limit has its own tests (test_security.py), here every answer must be checked.
        auth_failure_limit=100_000,
    )
    app = LiveApp(create_app(settings), port)
    app.start()
    yield app.url, organiser, physician
    app.stop()


#: The document the app serves (built from the same route table; checked equal below), loaded
#: at import so that pytest shows one test per operation.
DOCUMENT = build_openapi("http://127.0.0.1")
#: GET /me/{token} (the personal link) also matches these, so their Allow header rightly lists
#: GET besides POST: a link whose token is "preferences" is simply unknown (a 404 page).
SHADOWED = {"/me/preferences", "/me/token", "/me/signout"}
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Unknown query parameters are ignored, as HTTP APIs do; OpenAPI does not forbid them.
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                "allow-extra-parameters": False,
            },
            # Schema-valid is not always acceptable: the rules the document cannot state (an
            # RRULE's meaning, an IANA zone, an NPI's check digit, one of two fields) are
            # answered 422 naming the field. Every other check runs as it comes.
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422"]
                }
            },
        }
    ),
)


def test_the_document_tested_is_the_one_served(live: Any) -> None:
    url, _, _ = live
    served = requests.get(f"{url}/openapi.json", timeout=10).json()

    assert {**served, "servers": []} == {**DOCUMENT, "servers": []}


def map_query(_context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A list's ``cursor`` is opaque: only one the service handed out is valid, and any other
    string, schema-valid or not, is rightly a 400 (tested in test_paging.py). Generated
    requests start at the first page."""
    if query and "cursor" in query:
        return {key: value for key, value in query.items() if key != "cursor"}
    return query


@schema.hooks.apply(map_query)
@schema.parametrize()
def test_every_answer_conforms_to_the_document(case: Any, live: Any) -> None:
    url, organiser, physician = live
    token = physician if case.path.startswith("/api/me") else organiser
    case.call_and_validate(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[allow_header_conformance] if case.path in SHADOWED else [],
    )
