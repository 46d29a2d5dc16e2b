"""Background jobs: thin wrappers that open a session, call the domain and log.

The database is the truth; every job here can be rebuilt from it at start-up, and running
one twice (or in two processes) is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import IntegrityError

from schedules.clock import utcnow
from schedules.occurrences import extend_horizons
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
    scheduler.start()
    app[SCHEDULER] = scheduler
    yield
    scheduler.shutdown(wait=False)
