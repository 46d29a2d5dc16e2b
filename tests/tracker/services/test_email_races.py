"""Two schedulers on one PostgreSQL database race on the same outbox keys (issue 8, defect 10).

Each "scheduler" is a :class:`~tracker.jobs.JobContext` with its own engine (its own connection
pool), as two service processes have; both run the very job the scheduler fires at the same
moment. The process that loses a key must go on with the rest of its batch, raise nothing,
and every key must be queued exactly once. SQLite is one process's database (SPEC 5), so these
tests run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, text
from sqlmodel import col, select

from notifications.compose import Rendered, build_message
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from tests.factories import create_physician, create_series, job_context, occurrences
from tests.smtp import parse
from tests.tracker.mail_kinds import build_world
from tracker.db import Database
from tracker.domain.models import Physician, Registration
from tracker.jobs import finalize_job, reminder_job, statements_job
from tracker.settings import Settings

ONLY_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
PHYSICIANS = 16


async def _world(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    """A weekly series, :data:`PHYSICIANS` registered physicians, all of whom attend the first
    session in full."""
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=TU",
        reminders=["P1D", "PT1H"],
        min_attendance_percent=None,
    )
    first = (await occurrences(client, auth, series["id"]))[0]
    events: list[dict[str, Any]] = []
    for n in range(PHYSICIANS):
        physician = await create_physician(
            client, auth, email=f"physician{n}@example.org", npi=None, first_name=f"P{n}"
        )
        await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", "2026-12-01T12:30:00Z")):
            events.append(
                {
                    "event_id": f"{kind}-{n}",
                    "occurrence_id": first["id"],
                    "physician_id": physician["id"],
                    "kind": kind,
                    "at": at,
                }
            )
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    return {"series": series, "first": first}


async def _outbox(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


async def _race(
    settings: Settings, database: Database, scheduler: Any, job: Any, *args: Any
) -> Any:
    """``job`` run at the same moment by two schedulers, each with its own engine."""
    other = Database(settings.database_url)
    try:
        return await asyncio.gather(
            job(job_context(database, scheduler), *args),
            job(job_context(other, scheduler), *args),
            return_exceptions=True,
        )
    finally:
        await other.close()


def _links(rows: list[OutboxMessage]) -> set[str]:
    """The unsubscribe token in each message's ``List-Unsubscribe`` header."""
    return {str(parse(row.raw)["List-Unsubscribe"]).rsplit("/", 1)[1].strip("<>") for row in rows}


async def _tokens(database: Database) -> set[str | None]:
    async with database.session() as session:
        return set((await session.exec(select(Registration.unsubscribe_token))).all())


@ONLY_POSTGRESQL
async def test_two_schedulers_sending_the_first_reminders_agree_on_unsubscribe_links(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
) -> None:
    w = await _world(client, auth)

    with time_machine.travel(datetime(2026, 11, 30, 11, 30, tzinfo=UTC), tick=False):
        outcomes = await _race(settings, database, scheduler, reminder_job, w["first"]["id"], "P1D")
    rows = await _outbox(database)

    assert outcomes == [None, None]
    assert Counter(row.kind for row in rows) == {"reminder": PHYSICIANS}
    assert _links(rows) == await _tokens(database)  # no process overwrote a link already sent


@ONLY_POSTGRESQL
async def test_two_schedulers_sending_the_same_reminders_queue_each_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
) -> None:
    w = await _world(client, auth)
    with time_machine.travel(datetime(2026, 11, 30, 11, 30, tzinfo=UTC), tick=False):
        await reminder_job(job_context(database, scheduler), w["first"]["id"], "P1D")

    with time_machine.travel(datetime(2026, 12, 1, 10, 30, tzinfo=UTC), tick=False):
        outcomes = await _race(
            settings, database, scheduler, reminder_job, w["first"]["id"], "PT1H"
        )
    rows = await _outbox(database)

    assert outcomes == [None, None]
    assert Counter(row.key.split(":")[3] for row in rows) == {"P1D": PHYSICIANS, "PT1H": PHYSICIANS}
    assert len({row.key for row in rows}) == 2 * PHYSICIANS


@ONLY_POSTGRESQL
async def test_two_schedulers_finalising_the_same_session_queue_each_certificate_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
) -> None:
    w = await _world(client, auth)

    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        outcomes = await _race(settings, database, scheduler, finalize_job, w["first"]["id"])
    rows = await _outbox(database)

    assert outcomes == [None, None]
    assert Counter(row.kind for row in rows) == {"certificate": PHYSICIANS}
    assert len({row.key for row in rows}) == PHYSICIANS


@ONLY_POSTGRESQL
async def test_two_schedulers_sending_the_same_statements_queue_each_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
) -> None:
    w = await _world(client, auth)
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await finalize_job(job_context(database, scheduler), w["first"]["id"])

    with time_machine.travel(datetime(2027, 1, 1, 6, 5, tzinfo=UTC), tick=False):
        outcomes = await _race(settings, database, scheduler, statements_job)
    rows = await _outbox(database)

    assert outcomes == [None, None]
    assert Counter(row.kind for row in rows) == {"certificate": PHYSICIANS, "statement": PHYSICIANS}
    assert len({row.key for row in rows}) == 2 * PHYSICIANS


async def _until_a_backend_waits_on_a_lock(database: Database) -> None:
    """Wait (bounded) until some connection of this database is blocked on a lock."""
    for _ in range(1000):
        async with database.engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no connection ever waited on the other transaction's key")


@ONLY_POSTGRESQL
async def test_losing_a_key_to_a_transaction_that_commits_meanwhile_leaves_the_session_usable(
    client: TestClient, auth: dict[str, str], database: Database, settings: Settings
) -> None:
    """The exact interleaving of defect 10: this process checked that the key was free, another
    process inserted it and commits while this one's insert waits on the unique index."""
    world = await build_world(client, auth)
    now = datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    other = Database(settings.database_url)
    try:
        async with other.engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                insert(OutboxMessage).values(
                    key="reminder:race",
                    kind="reminder",
                    recipient="jeanne.durand@example.org",
                    subject="",
                    message_id="<other@cme.example.org>",
                    raw=b"Subject: other\r\n\r\nother\r\n",
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            async with database.session() as session:
                physician = await session.get_one(Physician, world.jeanne["id"])
                message = build_message(
                    Rendered("Rappel", "Bonjour\n", "<p>Bonjour</p>"),
                    sender="webinars@cme.example.org",
                    recipient=physician.email,
                    domain="cme.example.org",
                    now=now,
                )
                mine = asyncio.create_task(
                    enqueue(session, key="reminder:race", kind="reminder", message=message, now=now)
                )
                await _until_a_backend_waits_on_a_lock(database)
                await transaction.commit()
                inserted = await mine
                still_loaded = (physician.id, physician.email)  # no I/O: nothing was expired
    finally:
        await other.close()
    rows = await _outbox(database)

    assert inserted is False
    assert still_loaded == (world.jeanne["id"], "jeanne.durand@example.org")
    assert [(row.key, row.message_id) for row in rows] == [
        ("reminder:race", "<other@cme.example.org>")
    ]
