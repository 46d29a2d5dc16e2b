"""Background jobs: thin wrappers that open a session, call the domain and log.

The database is the truth; every job here is rebuilt from it at start-up and every minute, and
running one twice (or in two processes) is harmless: outbox keys and closure rows make each
effect happen once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from notifications.rendering import INLINE, Renderer
from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain.awards import BATCH
from tracker.domain.mailings import (
    MailSettings,
)
from tracker.http.keys import DATABASE, MAIL, SERVICES, SETTINGS, WORKER, ZOOM
from tracker.services import claims, horizons, reminders, statements, zoom
from tracker.services.context import Services
from tracker.services.finalisation import Lease, due_for_finalisation, finalise_session
from tracker.zoom.client import ZoomClient

log = logging.getLogger(__name__)
SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)
#: Set as soon as the service begins to stop (before requests drain and resources close).
STOPPING = web.AppKey("stopping", asyncio.Event)
#: How far ahead the planners put one-off jobs on the scheduler.
PLANNING_WINDOW = timedelta(hours=24)
PLANNING_EVERY = timedelta(minutes=1)
#: Unreadable Zoom report rows named in the log line of one reconciliation (the rest counted).
UNREADABLE_LOGGED = 5


@dataclass(frozen=True)
class JobContext:
    """What every job of this process needs (jobs themselves carry only ids)."""

    database: Database
    scheduler: AsyncIOScheduler
    grace: timedelta
    mail: MailSettings
    poke: Callable[[], None] = lambda: None
    running: set[asyncio.Task[object]] = field(default_factory=set)
    #: This process's claim on the finalisations it runs.
    lease: Lease = field(default_factory=lambda: Lease(owner=process_id()))
    #: Awards per finalisation transaction.
    batch_size: int = BATCH
    #: Set at shutdown: long jobs stop between two batches and give their claims back.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: The Zoom account's client and the services its jobs call (SPEC 8), when configured.
    zoom: ZoomClient | None = None
    services: Services | None = None
    #: Draws certificate PDFs (``TRACKER_PDF_WORKERS`` processes, or the event loop).
    pdfs: Renderer = INLINE


def process_id() -> str:
    """Who this process is, for leases (host, pid and a random part: pids are reused)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def tracked(job: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    """Remember the job's task in its context so that shutdown can let it finish."""

    @functools.wraps(job)
    async def run(*args: object) -> object:
        ctx = next((a for a in args if isinstance(a, JobContext)), None)
        task = asyncio.current_task()
        if ctx is not None and task is not None:
            ctx.running.add(task)
        try:
            return await job(*args)
        finally:
            if ctx is not None and task is not None:
                ctx.running.discard(task)

    return run


async def extend_horizons_job(database: Database, _ctx: JobContext | None = None) -> None:
    """Keep at least 12 months of occurrences materialised for every recurring series."""
    await horizons.extend_all(database)


@tracked
async def finalize_job(ctx: JobContext, occurrence_id: int) -> None:
    """Make one occurrence's credits final and send its certificates; resumable (see
    :mod:`tracker.services.finalisation`): a run stopped half-way is picked up by the next planner run."""
    await finalise_session(
        ctx.database,
        ctx.mail,
        occurrence_id,
        now=utcnow(),
        grace=ctx.grace,
        lease=ctx.lease,
        stopping=ctx.stopping,
        batch_size=ctx.batch_size,
        poke=ctx.poke,
        pdfs=ctx.pdfs,
    )


@tracked
async def plan_finalisations(ctx: JobContext) -> int:
    """Finalise what is overdue and put a job at ``end + grace`` for what is due within a day."""
    now = utcnow()
    due = await due_for_finalisation(
        ctx.database, now=now, grace=ctx.grace, until=now + PLANNING_WINDOW
    )
    for occurrence_id, when in due:
        if ctx.stopping.is_set():
            break
        if when <= now:
            await finalize_job(ctx, occurrence_id)
            continue
        ctx.scheduler.add_job(
            finalize_job,
            "date",
            run_date=when,
            id=f"finalize-{occurrence_id}",
            replace_existing=True,
            args=[ctx, occurrence_id],
            misfire_grace_time=None,
        )
    return len(due)


@tracked
async def reminder_job(ctx: JobContext, occurrence_id: int, offset: str) -> None:
    """Send one occurrence's reminders at one offset, if that is still their time."""
    await reminders.send_reminders(ctx.database, ctx.mail, occurrence_id, offset, now=utcnow())
    ctx.poke()


@tracked
async def plan_reminders(ctx: JobContext) -> int:
    """Send reminders that came due since the last run (skipped and recorded if the session
    already started) and put a job at the time of each reminder due within a day."""
    overdue, upcoming = await reminders.catch_up_reminders(
        ctx.database, ctx.mail, now=utcnow(), window=PLANNING_WINDOW
    )
    wanted = {f"reminder-{due.occurrence_id}-{due.offset}" for due in upcoming}
    for job in ctx.scheduler.get_jobs():
        if job.id.startswith("reminder-") and job.id not in wanted:  # moved away or cancelled
            job.remove()
    for due in upcoming:
        ctx.scheduler.add_job(
            reminder_job,
            "date",
            run_date=due.due,
            id=f"reminder-{due.occurrence_id}-{due.offset}",
            replace_existing=True,
            args=[ctx, due.occurrence_id, due.offset],
            misfire_grace_time=None,
        )
    if overdue:
        ctx.poke()
    return len(upcoming)


@tracked
async def zoom_registrants_job(ctx: JobContext) -> None:
    """Add new registrations to their Zoom webinars and cancel removed ones (SPEC 8)."""
    if ctx.zoom is None or ctx.services is None:
        return
    synced = await zoom.sync_registrants(ctx.services, ctx.zoom)
    if synced.added or synced.cancelled or synced.failed:
        log.info(
            "Zoom registrants: %d added, %d cancelled, %d failed",
            synced.added,
            synced.cancelled,
            synced.failed,
        )


@tracked
async def zoom_reconcile_job(ctx: JobContext) -> None:
    """Read the participant reports of occurrences that ended 1 h and 24 h ago (and the runs
    organisers asked for); runs are rows, claimed once whatever the number of processes."""
    if ctx.zoom is None or ctx.services is None:
        return
    for outcome in await zoom.plan_and_run(ctx.services, ctx.zoom):
        log.log(
            logging.WARNING if outcome.reason else logging.INFO,
            "Zoom reconciliation of occurrence %d: %s",
            outcome.occurrence_id,
            f"failed: {outcome.reason}"
            if outcome.reason
            else f"{outcome.rows} rows, {outcome.added} new facts",
        )
        if outcome.unreadable:
            log.warning(
                "Zoom reconciliation of occurrence %d: %d report row(s) could not be read and "
                "were left out: %s",
                outcome.occurrence_id,
                len(outcome.unreadable),
                "; ".join(outcome.unreadable[:UNREADABLE_LOGGED])
                + ("; ..." if len(outcome.unreadable) > UNREADABLE_LOGGED else ""),
            )


def previous_month(now: datetime) -> str:
    first = now.replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


@tracked
async def statements_job(ctx: JobContext) -> None:
    """On the 1st of each month: last month's statement to each physician with final credits."""
    period = previous_month(utcnow())
    queued, total = await statements.send_statements(ctx.database, ctx.mail, period, now=utcnow())
    log.info("statements for %s: %d queued for %d physicians", period, queued, total)
    ctx.poke()


#: How often statements left by a process that died are looked for (its lease is 5 minutes).
RESUME_STATEMENTS_EVERY = timedelta(minutes=10)


@tracked
async def resume_statements_job(ctx: JobContext) -> None:
    """Compose the statements a process claimed and never finished (it died): its lease ran
    out. With nothing left behind, one read."""
    queued = await statements.resume_statements(ctx.database, ctx.mail)
    if queued:
        log.info("statements: %d left behind by another process queued", queued)
        ctx.poke()


#: How often the claim reminders are looked for (they go three days before a claim closes).
CLAIM_REMINDERS_EVERY = timedelta(minutes=15)


@tracked
async def claim_reminders_job(ctx: JobContext) -> None:
    """Remind those who have not claimed their credit, three days before claims close; once
    each (outbox keys), whichever process runs it."""
    queued = await claims.send_claim_reminders(ctx.database, ctx.mail, now=utcnow())
    if queued:
        log.info("claim reminders: %d queued", queued)
        ctx.poke()


async def signal_stopping(app: web.Application) -> None:
    """``on_shutdown``: long jobs stop after their current batch, without waiting for the
    server to drain its connections first."""
    app[STOPPING].set()


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start APScheduler inside the running loop (``TRACKER_SCHEDULER=off`` runs no jobs)."""
    if app[SETTINGS].scheduler == "off":
        yield
        return
    scheduler = AsyncIOScheduler(timezone=UTC)
    ctx = JobContext(
        database=app[DATABASE],
        scheduler=scheduler,
        grace=timedelta(minutes=app[SETTINGS].credit_grace_minutes),
        mail=app[MAIL],
        poke=app[WORKER].poke,
        lease=Lease(
            owner=process_id(),
            length=timedelta(seconds=app[SETTINGS].finalisation_lease_seconds),
        ),
        batch_size=app[SETTINGS].finalisation_batch,
        stopping=app[STOPPING],
        zoom=app.get(ZOOM),
        services=app[SERVICES],
        pdfs=app[SERVICES].pdfs,
    )
    every = {
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "replace_existing": True,
    }
    scheduler.add_job(
        tracked(extend_horizons_job),
        "cron",
        hour=3,
        minute=17,
        id="extend-horizons",
        args=[ctx.database, ctx],
        next_run_time=utcnow(),
        **every,
    )
    for name, job in (
        ("plan-finalisations", plan_finalisations),
        ("plan-reminders", plan_reminders),
    ):
        scheduler.add_job(
            job,
            "interval",
            seconds=PLANNING_EVERY.total_seconds(),
            id=name,
            args=[ctx],
            next_run_time=utcnow(),
            **every,
        )
    if ctx.zoom is not None:  # Zoom account integration (SPEC 8)
        for name, job, seconds in (
            ("zoom-registrants", zoom_registrants_job, 30),
            ("zoom-reconcile", zoom_reconcile_job, 60),
        ):
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                id=name,
                args=[ctx],
                next_run_time=utcnow(),
                **every,
            )
    scheduler.add_job(
        claim_reminders_job,
        "interval",
        seconds=CLAIM_REMINDERS_EVERY.total_seconds(),
        id="claim-reminders",
        args=[ctx],
        next_run_time=utcnow(),
        **every,
    )
    scheduler.add_job(
        resume_statements_job,
        "interval",
        seconds=RESUME_STATEMENTS_EVERY.total_seconds(),
        id="resume-statements",
        args=[ctx],
        **every,
    )
    scheduler.add_job(
        statements_job,
        "cron",
        day=1,
        hour=6,
        minute=5,
        id="monthly-statements",
        args=[ctx],
        **every,
    )
    scheduler.start()
    app[SCHEDULER] = scheduler
    yield
    scheduler.pause()  # no new runs; let the running ones end before the database closes
    ctx.stopping.set()  # long ones stop after their current batch
    if ctx.running:
        await asyncio.wait(set(ctx.running), timeout=15)
    scheduler.shutdown(wait=False)
