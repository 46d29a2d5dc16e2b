"""Monthly statements composed once per month and physician, whatever the number of processes:
each is claimed under a lease first (``tracker serve --workers N`` planned and composed every
PDF N times before), and those a killed process held are taken over once its lease runs out.
Two app instances (two engines) on one PostgreSQL database; the resuming on both engines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import job_context
from tests.tracker.services.test_email_races import (
    ONLY_POSTGRESQL,
    PHYSICIANS,
    _outbox,
    _race,
    _world,
)
from tracker.db import Database
from tracker.domain import documents, mailings
from tracker.domain import statement_runs as runs
from tracker.domain.models import Physician
from tracker.jobs import finalize_job, resume_statements_job, statements_job
from tracker.services import statements
from tracker.services.context import load_services
from tracker.settings import Settings

FINAL = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
FIRST_OF_JANUARY = datetime(2027, 1, 1, 6, 5, tzinfo=UTC)


@pytest.fixture
def composed(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Statements composed, by physician (the real composition, counted)."""
    counted: Counter[int] = Counter()
    real = documents.statement_data

    def counting(physician: Physician, *args: Any) -> Any:
        counted[physician.id or 0] += 1
        return real(physician, *args)

    monkeypatch.setattr("tracker.domain.mailings.statement_data", counting)
    return counted


async def _finalised_world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await _world(client, auth)
    with time_machine.travel(FINAL, tick=False):
        await finalize_job(job_context(database, scheduler), world["first"]["id"])


@ONLY_POSTGRESQL
async def test_two_instances_on_one_database_compose_each_statement_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
    composed: Counter[int],
) -> None:
    await _finalised_world(client, auth, database, scheduler)

    with time_machine.travel(FIRST_OF_JANUARY, tick=False):
        outcomes = await _race(settings, database, scheduler, statements_job)
    rows = await _outbox(database)

    assert outcomes == [None, None]
    assert len(composed) == PHYSICIANS
    assert set(composed.values()) == {1}
    assert Counter(row.kind for row in rows)["statement"] == PHYSICIANS


async def test_statements_a_dead_process_held_are_composed_once_its_lease_runs_out(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    settings: Settings,
    composed: Counter[int],
) -> None:
    await _finalised_world(client, auth, database, scheduler)
    services = await load_services(database, settings)
    with time_machine.travel(FIRST_OF_JANUARY, tick=False):
        async with database.session() as session:  # a process plans, claims a batch, dies
            ids = await mailings.physicians_with_activity(session, "2026-12")
            await runs.plan(session, "2026-12", ids)
            held = await runs.claim(
                session, owner="dead", now=FIRST_OF_JANUARY, lease=statements.LEASE
            )
            await session.commit()
        queued, total = await statements.send_statements(
            database, services.mail, "2026-12", now=FIRST_OF_JANUARY
        )
        too_soon = await statements.resume_statements(database, services.mail)
    later = FIRST_OF_JANUARY + statements.LEASE + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        await resume_statements_job(job_context(database, scheduler))
        again = await statements.resume_statements(database, services.mail)
        rerun = await statements.send_statements(database, services.mail, "2026-12", now=later)
    rows = await _outbox(database)

    assert len(held) == statements.BATCH
    assert (queued, total) == (PHYSICIANS - statements.BATCH, PHYSICIANS)
    assert too_soon == 0
    assert again == 0
    assert rerun == (0, PHYSICIANS)  # a second run of the month finds it done
    assert len(composed) == PHYSICIANS
    assert set(composed.values()) == {1}
    assert Counter(row.kind for row in rows)["statement"] == PHYSICIANS
