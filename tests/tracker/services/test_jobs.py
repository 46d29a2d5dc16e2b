"""Background jobs are rebuilt from the database: a restart loses no finalisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from schedules.occurrences import list_occurrences
from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tests.factories import job_context
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import OccurrenceClosure
from tracker.jobs import SCHEDULER, plan_finalisations
from tracker.settings import Settings

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=90)


async def _daily_series(database: Database) -> list[int]:
    data = SeriesCreate.model_validate(
        {
            "title": "Daily",
            "timezone": "UTC",
            "start": "2026-10-31T11:00:00",
            "duration_minutes": 60,
            "rrule": "FREQ=DAILY;COUNT=5",
            "join_url": "https://zoom.us/j/1",
        }
    )
    async with database.session() as session:
        series = await create_series(session, data, credit_types=[], now=NOW)
        await session.commit()
        return [o.id or 0 for o in await list_occurrences(session, series.id or 0)]


async def test_planner_finalises_overdue_and_schedules_the_next_day(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    ids = await _daily_series(database)  # ends: 31 Oct, 1, 2, 3, 4 Nov at 12:00 UTC

    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        await plan_finalisations(job_context(database, scheduler))

    async with database.session() as session:
        closed = [oid for oid in ids if await session.get(OccurrenceClosure, oid)]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert closed == ids[:2]
    assert set(jobs) == {f"finalize-{ids[2]}"}
    assert jobs[f"finalize-{ids[2]}"].trigger.run_date == datetime(2026, 11, 2, 13, 30, tzinfo=UTC)


async def test_planner_twice_schedules_each_job_once(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    ids = await _daily_series(database)

    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        await plan_finalisations(job_context(database, scheduler))
        await plan_finalisations(job_context(database, scheduler))

    assert [job.id for job in scheduler.get_jobs()] == [f"finalize-{ids[2]}"]


async def test_service_start_registers_jobs_with_fixed_ids(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(settings.model_copy(update={"scheduler": "on"}))
    )

    scheduler = client.app[SCHEDULER]

    assert {job.id for job in scheduler.get_jobs()} >= {
        "extend-horizons",
        "plan-finalisations",
        "plan-reminders",
        "monthly-statements",
        "claim-reminders",
    }
