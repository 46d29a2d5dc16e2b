"""Background jobs: thin wrappers that open a session, call the domain and log.

The database is the truth; every job here can be rebuilt from it at start-up, and running
one twice (or in two processes) is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import IntegrityError

from schedules.clock import utcnow
from schedules.occurrences import extend_horizons
from tracker.awards import due_for_finalisation, finalize_occurrence
from tracker.db import Database
from tracker.keys import DATABASE, SETTINGS

log = logging.getLogger(__name__)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


async def extend_horizons_job(database: Database) -> None:
    """Keep at least 12 months of occurrences materialised for every recurring series."""
    async with database.session() as session:
        try:
            count = await extend_horizons(session, now=utcnow())
            await session.commit()
        except IntegrityError:  # another process extended the same series at the same moment
            await session.rollback()
            log.info("horizon extension raced with another process; it will run again")
            return
    if count:
        log.info("extended the occurrence horizon of %d series", count)


#: How far ahead the planner puts one-off finalisation jobs on the scheduler.
PLANNING_WINDOW = timedelta(hours=24)
PLANNING_EVERY = timedelta(minutes=1)


async def finalize_job(database: Database, occurrence_id: int, grace: timedelta) -> None:
    """Make one occurrence's credits final (a no-op if it moved later or another process did it)."""
    async with database.session() as session:
        await finalize_occurrence(session, occurrence_id, now=utcnow(), grace=grace)


async def plan_finalisations(
    database: Database, scheduler: AsyncIOScheduler, grace: timedelta
) -> int:
    """Finalise what is overdue and put a job at ``end + grace`` for what is due within a day.

    Rebuilt from the database at start-up and every minute, so a restart, a moved
    occurrence or a second process never loses a finalisation.
    """
    now = utcnow()
    async with database.session() as session:
        due = await due_for_finalisation(session, now=now, grace=grace, until=now + PLANNING_WINDOW)
    for occurrence_id, when in due:
        if when <= now:
            await finalize_job(database, occurrence_id, grace)
            continue
        scheduler.add_job(
            finalize_job,
            "date",
            run_date=when,
            id=f"finalize-{occurrence_id}",
            replace_existing=True,
            args=[database, occurrence_id, grace],
            misfire_grace_time=None,
        )
    return len(due)


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start APScheduler inside the running loop (``TRACKER_SCHEDULER=off`` runs no jobs)."""
    if app[SETTINGS].scheduler == "off":
        yield
        return
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        extend_horizons_job,
        "cron",
        hour=3,
        minute=17,
        id="extend-horizons",
        replace_existing=True,
        args=[app[DATABASE]],
        next_run_time=utcnow(),
        misfire_grace_time=3600,
        coalesce=True,
    )
    grace = timedelta(minutes=app[SETTINGS].credit_grace_minutes)
    scheduler.add_job(
        plan_finalisations,
        "interval",
        seconds=PLANNING_EVERY.total_seconds(),
        id="plan-finalisations",
        replace_existing=True,
        args=[app[DATABASE], scheduler, grace],
        next_run_time=utcnow(),
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    app[SCHEDULER] = scheduler
    yield
    scheduler.shutdown(wait=False)
