"""Issuing a session's certificates under the closure's lease: a process that lost its lease
(it was slower than the lease, another process took the closure over) stops composing them,
and one that is stopping gives the lease back; every certificate is queued once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import col, func, select

from notifications.models import OutboxMessage
from tests.factories import CERTIFIED, ended_session, job_context
from tracker.db import Database
from tracker.domain.models import OccurrenceClosure
from tracker.jobs import plan_finalisations
from tracker.services.finalisation import Lease, certify, claim, finalize_awards, keep

GRACE = timedelta(minutes=90)
NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


async def _certificates(database: Database) -> list[str]:
    async with database.session() as session:
        query = select(OutboxMessage.key).where(col(OutboxMessage.kind) == "certificate")
        return list((await session.exec(query)).all())


async def _closure(database: Database, occurrence_id: int) -> tuple[str | None, bool]:
    async with database.session() as session:
        closure = await session.get_one(OccurrenceClosure, occurrence_id)
        return closure.lease_owner, closure.completed_at is not None


async def test_a_process_whose_lease_was_taken_over_stops_before_composing_certificates(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    occurrence = await ended_session(database, 30, ended=NOW - GRACE - timedelta(minutes=1))
    mail = job_context(database, scheduler).mail
    slow, other = Lease(owner="slow process"), Lease(owner="other process")
    with time_machine.travel(NOW, tick=False):
        assert await claim(database, occurrence, now=NOW, grace=GRACE, lease=slow)
        assert await finalize_awards(database, occurrence, now=NOW, lease=slow)
    later = NOW + slow.length + timedelta(minutes=1)  # the slow one's lease ran out meanwhile
    with time_machine.travel(later, tick=False):
        assert await claim(database, occurrence, now=later, grace=GRACE, lease=other)
        assert await finalize_awards(database, occurrence, now=later, lease=other)
        outcomes = await asyncio.gather(
            certify(database, mail, occurrence, lease=slow),
            certify(database, mail, occurrence, lease=other),
        )

    keys = await _certificates(database)
    assert list(outcomes) == [False, True]
    assert len(keys) == len(set(keys)) == CERTIFIED
    assert await _closure(database, occurrence) == (None, True)


async def test_a_lost_lease_alone_queues_nothing_and_leaves_the_closure_to_its_owner(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    occurrence = await ended_session(database, 30, ended=NOW - GRACE - timedelta(minutes=1))
    mail = job_context(database, scheduler).mail
    slow, other = Lease(owner="slow process"), Lease(owner="other process")
    later = NOW + slow.length + timedelta(minutes=1)
    with time_machine.travel(NOW, tick=False):
        assert await claim(database, occurrence, now=NOW, grace=GRACE, lease=slow)
        assert await finalize_awards(database, occurrence, now=NOW, lease=slow)
    with time_machine.travel(later, tick=False):
        assert await claim(database, occurrence, now=later, grace=GRACE, lease=other)
        lost = await certify(database, mail, occurrence, lease=slow)

    assert lost is False
    assert await _certificates(database) == []
    assert await _closure(database, occurrence) == ("other process", False)


async def test_a_stopping_process_gives_the_lease_back_and_the_next_planner_run_finishes(
    database: Database, scheduler: AsyncIOScheduler
) -> None:
    occurrence = await ended_session(database, 30, ended=NOW - GRACE - timedelta(minutes=1))
    context = job_context(database, scheduler)
    lease, stopping = Lease(owner="stopping process"), asyncio.Event()
    with time_machine.travel(NOW, tick=False):
        assert await claim(database, occurrence, now=NOW, grace=GRACE, lease=lease)
        assert await finalize_awards(database, occurrence, now=NOW, lease=lease)
        stopping.set()
        paused = await certify(database, context.mail, occurrence, lease=lease, stopping=stopping)
        given_back = await _closure(database, occurrence)
        await plan_finalisations(context)  # at once: the lease was given back

    keys = await _certificates(database)
    assert paused is False
    assert given_back == (None, False)
    assert len(keys) == len(set(keys)) == CERTIFIED
    assert await _closure(database, occurrence) == (None, True)


async def test_each_certificate_batch_renews_the_lease(database: Database) -> None:
    """A lease renewed before each batch: held for a whole lease after the last renewal."""
    occurrence = await ended_session(database, 3, ended=NOW - GRACE - timedelta(minutes=1))
    lease = Lease(owner="busy process")
    with time_machine.travel(NOW, tick=False):
        assert await claim(database, occurrence, now=NOW, grace=GRACE, lease=lease)
    almost = NOW + lease.length - timedelta(seconds=1)
    with time_machine.travel(almost, tick=False):
        assert await keep(database, occurrence, lease=lease, now=almost)
    after = NOW + lease.length + timedelta(seconds=30)  # past the first lease, within the renewed
    with time_machine.travel(after, tick=False):
        taken = await claim(database, occurrence, now=after, grace=GRACE, lease=Lease(owner="x"))
    async with database.session() as session:
        count = (await session.exec(select(func.count()).select_from(OccurrenceClosure))).one()

    assert taken is False
    assert count == 1
    assert await _closure(database, occurrence) == ("busy process", False)
