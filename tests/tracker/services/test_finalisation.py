"""Finalisation is resumable: a stopped or killed process leaves no session provisional forever,
and a restarted one finishes the work (each award final once, each certificate queued once)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import col, func, select

from notifications.models import OutboxMessage, OutboxStatus
from notifications.transports import MaildirTransport
from notifications.worker import DeliveryWorker
from tests.factories import CERTIFIED, ended_session, job_context, queue_messages
from tests.processes import descendants, serve, still_running
from tracker.db import Database
from tracker.domain.awards import recompute_occurrence
from tracker.domain.models import Award, OccurrenceClosure
from tracker.jobs import plan_finalisations
from tracker.services.finalisation import Lease, claim, finalize, finalize_awards

GRACE = timedelta(minutes=90)
SENDER = "webinars@cme.example.org"


async def _state(database: Database, occurrence_id: int) -> tuple[int, int, int, bool]:
    """(final awards, all awards, certificate emails, closure complete)."""
    async with database.session() as session:
        final = (
            await session.exec(
                select(func.count()).where(
                    Award.occurrence_id == occurrence_id, col(Award.final).is_(True)
                )
            )
        ).one()
        awards = (
            await session.exec(select(func.count()).where(Award.occurrence_id == occurrence_id))
        ).one()
        mails = (
            await session.exec(select(func.count()).where(col(OutboxMessage.kind) == "certificate"))
        ).one()
        closure = await session.get(OccurrenceClosure, occurrence_id)
        return (
            int(final),
            int(awards),
            int(mails),
            closure is not None and bool(closure.completed_at),
        )


async def test_a_finalisation_stopped_between_batches_is_resumed_by_the_next_planner_run(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    now = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    occurrence = await ended_session(database, 300, ended=now - GRACE - timedelta(minutes=1))
    stopping = asyncio.Event()
    lease = Lease(owner="first")
    assert await claim(database, occurrence, now=now, grace=GRACE, lease=lease)
    stopping.set()  # a shutdown arrives before the first batch

    with time_machine.travel(now, tick=False):
        stopped = await finalize_awards(
            database, occurrence, now=now, lease=lease, stopping=stopping
        )
        paused = await _state(database, occurrence)
        await plan_finalisations(job_context(database, scheduler))

    assert stopped is False
    assert paused == (0, 0, 0, False)
    assert await _state(database, occurrence) == (300, 300, CERTIFIED, True)


async def test_a_claim_whose_process_died_is_resumed_once_its_lease_runs_out(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    now = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    occurrence = await ended_session(database, 30, ended=now - GRACE - timedelta(minutes=1))
    dead = Lease(owner="killed process", length=timedelta(minutes=2))
    assert await claim(database, occurrence, now=now, grace=GRACE, lease=dead)

    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        await plan_finalisations(job_context(database, scheduler))
        while_leased = await _state(database, occurrence)
    with time_machine.travel(now + timedelta(minutes=3), tick=False):
        await plan_finalisations(job_context(database, scheduler))
        await plan_finalisations(job_context(database, scheduler))  # and again: nothing more

    assert while_leased == (0, 0, 0, False)
    assert await _state(database, occurrence) == (30, 30, CERTIFIED, True)


async def test_the_planner_puts_a_job_at_the_end_of_a_dead_lease_which_resumes_the_work(
    database: Database,
) -> None:
    now = datetime.now(UTC)  # real time: the scheduler below really runs
    occurrence = await ended_session(database, 20, ended=now - GRACE - timedelta(minutes=1))
    dead = Lease(owner="killed process", length=timedelta(seconds=2))
    assert await claim(database, occurrence, now=now, grace=GRACE, lease=dead)
    running = AsyncIOScheduler(timezone=UTC)
    running.start()
    try:
        await plan_finalisations(job_context(database, running))
        planned = [job.id for job in running.get_jobs()]
        for _ in range(100):
            if (await _state(database, occurrence))[3]:
                break
            await asyncio.sleep(0.1)
    finally:
        running.shutdown(wait=False)

    assert planned == [f"finalize-{occurrence}"]
    assert await _state(database, occurrence) == (20, 20, CERTIFIED, True)


async def test_late_join_after_finalisation_changes_nothing_twice(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    now = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    occurrence = await ended_session(database, 10, ended=now - GRACE - timedelta(minutes=1))
    with time_machine.travel(now, tick=False):
        await plan_finalisations(job_context(database, scheduler))
    async with database.session() as session:
        versions = (
            await session.exec(select(Award.version).where(Award.occurrence_id == occurrence))
        ).all()

    assert set(versions) == {1}
    assert await _state(database, occurrence) == (10, 10, CERTIFIED, True)


def _serve(database_url: str, cwd: Path, **settings: str) -> subprocess.Popen[bytes]:
    return serve(
        cwd,
        **{
            "database_url": database_url,
            "maildir": str(cwd / "mail"),
            "scheduler": "on",
            "finalisation_lease_seconds": "5",
            "finalisation_batch": "50",
        }
        | settings,
    )


async def _until(database: Database, occurrence_id: int, done: object, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        state = await _state(database, occurrence_id)
        if callable(done) and done(state):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{await _state(database, occurrence_id)} after {within} s")


ATTENDEES = 1000


async def _stopped_mid_run(
    database: Database, database_url: str, tmp_path: Path, how: signal.Signals
) -> tuple[tuple[int, int, int, bool], float]:
    """Start a service, stop it with ``how`` while some but not all awards are final, restart
    it; returns the state after the stop and how long the stop took."""
    occurrence = await ended_session(
        database, ATTENDEES, ended=datetime.now(UTC) - GRACE - timedelta(minutes=1)
    )
    first = _serve(database_url, tmp_path)
    try:
        await _until(database, occurrence, lambda s: 0 < s[0] < ATTENDEES, within=60)
    finally:
        began = asyncio.get_running_loop().time()
        first.send_signal(how)
        first.wait(timeout=30)
        took = asyncio.get_running_loop().time() - began
    stopped = await _state(database, occurrence)
    second = _serve(database_url, tmp_path)
    try:
        await _until(database, occurrence, lambda s: s[3], within=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert await _state(database, occurrence) == (ATTENDEES, ATTENDEES, CERTIFIED, True)
    return stopped, took


async def test_sigkill_mid_finalisation_then_a_restart_makes_every_award_final(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    stopped, _took = await _stopped_mid_run(database, database_url, tmp_path, signal.SIGKILL)

    final, _awards, mails, complete = stopped
    assert 0 < final < ATTENDEES
    assert (mails, complete) == (0, False)


async def test_sigterm_mid_finalisation_stops_promptly_and_a_restart_finishes(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    stopped, took = await _stopped_mid_run(database, database_url, tmp_path, signal.SIGTERM)

    final, _awards, _mails, complete = stopped
    assert 0 < final < ATTENDEES
    assert complete is False
    assert took < 10


async def test_sigterm_while_workers_draw_certificates_stops_them_promptly_and_a_restart_finishes(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    """The PDFs drawn in a worker process (``TRACKER_PDF_WORKERS=1``): stopped between two
    batches of certificates, the service and every process it started end within seconds; a
    restart queues the rest, each certificate once."""
    certified = 600  # three batches of certificates
    occurrence = await ended_session(
        database,
        certified,
        ended=datetime.now(UTC) - GRACE - timedelta(minutes=1),
        certified=certified,
    )
    first = _serve(database_url, tmp_path, pdf_workers="1")
    try:
        await _until(database, occurrence, lambda s: 0 < s[2] < certified, within=120)
        started = descendants(first.pid)
    finally:
        began = asyncio.get_running_loop().time()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        took = asyncio.get_running_loop().time() - began
    stopped = await _state(database, occurrence)
    left = still_running(started, within=10)
    second = _serve(database_url, tmp_path, pdf_workers="1")
    try:
        await _until(database, occurrence, lambda s: s[3], within=120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert first.returncode == 0
    assert took < 10
    assert len(started) >= 2  # the worker and the fork server that started it, at least
    assert left == set()
    assert stopped[2] < certified and stopped[3] is False
    assert await _state(database, occurrence) == (certified, certified, certified, True)


async def test_the_outbox_worker_keeps_sending_while_a_large_session_is_finalised(
    database: Database, scheduler: AsyncIOScheduler, tmp_path: Path, caplog: Any
) -> None:
    """SQLite has one writer at a time: finalisation writes in short batches, so the worker
    sending a queue of 200 other messages meanwhile (15 batches of finalisation) never meets
    "database is locked"."""
    now = datetime.now(UTC)
    occurrence = await ended_session(database, 1500, ended=now - GRACE - timedelta(minutes=1))
    await queue_messages(database, 200)
    worker = DeliveryWorker(
        database.session, MaildirTransport(tmp_path / "mail"), sender=SENDER, rate_per_second=0
    )
    context = dataclasses.replace(job_context(database, scheduler), batch_size=100)

    with caplog.at_level(logging.WARNING):
        sending = asyncio.create_task(worker.run())
        try:
            await plan_finalisations(context)
            for _ in range(200):
                if await _sent(database) == 200 + CERTIFIED:
                    break
                await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await sending

    assert await _state(database, occurrence) == (1500, 1500, CERTIFIED, True)
    assert await _sent(database) == 200 + CERTIFIED
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def _sent(database: Database) -> int:
    async with database.session() as session:
        query = select(func.count()).where(col(OutboxMessage.status) == OutboxStatus.SENT)
        return int((await session.exec(query)).one())


async def test_provisional_awards_become_final_as_they_are_and_changed_ones_are_rewritten(
    database: Database,
) -> None:
    now = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
    occurrence = await ended_session(database, 120, ended=now - GRACE - timedelta(minutes=1))
    async with database.session() as session:
        await recompute_occurrence(session, occurrence, now=now)
        first = (await session.exec(select(Award).order_by(col(Award.physician_id)))).first()
        assert first is not None
        first.seconds, first.credits = 1, {"AMA_PRA_1": 0.0}  # as if computed too early
        await session.commit()
        changed = first.physician_id

    assert await finalize(database, occurrence, now=now, grace=GRACE)

    async with database.session() as session:
        awards = (await session.exec(select(Award))).all()
    assert len(awards) == 120
    assert {(a.final, a.finalized_at, a.computed_at, a.version) for a in awards} == {
        (True, now, now, 1)
    }
    by_physician = {a.physician_id: a for a in awards}
    assert (by_physician[changed].seconds, by_physician[changed].credits) == (
        3600,
        {"AMA_PRA_1": 1.0},
    )
    assert sorted(a.seconds for a in awards) == [300] * (120 - CERTIFIED) + [3600] * CERTIFIED
