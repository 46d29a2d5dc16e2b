"""Attendance ingestion: store the facts durably and answer; recompute awards behind the answer.

Recording (the Zoom webhook, the API batch, the report import) goes through one transaction
that stores the events (``INSERT ... ON CONFLICT DO NOTHING`` on their unique key), matches
them in bulk, and marks the awards they change as pending (``award_pending``); once it is
committed the caller may answer. In the service, a :class:`Writer` gathers what concurrent
requests hand it while the previous transaction commits and stores it all in the next one
(group commit): one transaction, a few statements and one commit for a whole storm's worth of
webhooks instead of two transactions and a dozen round trips per event.

The :class:`Projector` recomputes pending awards behind the answers, in batches, claiming them
so that several processes share the work; the rows are the truth, so a restart resumes what a
killed process left. Readers that need current awards (a credit summary, an occurrence's
attendance, finalisation) first :func:`settle` what is pending for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain.attendance import (
    EVERY_ATTENDEE,
    Claimed,
    NewEvent,
    Recorded,
    claim_pending,
    finish_pending,
    match_pending,
    pending_count,
    release_pending,
    store_rows,
)
from tracker.domain.awards import batches, recompute_awards, recompute_occurrence
from tracker.services import projections
from tracker.services.context import Services
from tracker.services.transactions import retried_once

log = logging.getLogger(__name__)

#: How long a projector's claim lasts (a killed process's claims run out after this).
LEASE = timedelta(minutes=2)
#: Awards claimed and recomputed per transaction.
PROJECTION_BATCH = 1000
#: Events stored per group-commit transaction at most.
WRITE_BATCH = 5000


# Recording -------------------------------------------------------------------------------------


async def record(database: Database, events: Sequence[NewEvent]) -> Recorded:
    """Store these events in one transaction and commit; their awards are pending after it."""
    now = utcnow()
    return await database.write(lambda connection: store_rows(connection, events, now=now))


def _split(recorded: Recorded, sizes: Sequence[int]) -> list[Recorded]:
    """Each submission's share of a group commit (its counts come from its statuses)."""
    parts: list[Recorded] = []
    offset = 0
    for size in sizes:
        statuses = recorded.statuses[offset : offset + size]
        offset += size
        parts.append(
            Recorded(
                accepted=statuses.count("accepted") + statuses.count("unmatched"),
                duplicates=statuses.count("duplicate"),
                unmatched=statuses.count("unmatched"),
                conflicts=statuses.count("conflict"),
                statuses=statuses,
            )
        )
    return parts


@dataclass
class _Submission:
    events: Sequence[NewEvent]
    answer: asyncio.Future[Recorded]


class Writer:
    """Group commit for one process: :meth:`record` hands the events to the writing task and
    returns once the transaction holding them is committed. While one transaction commits, the
    next gathers every submission that arrives, so the cost of a commit is shared by all."""

    def __init__(
        self, database: Database, *, stored: Callable[[], None], limit: int = WRITE_BATCH
    ) -> None:
        self._database = database
        self._stored = stored
        self._limit = limit
        self._queue: list[_Submission] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_write = 0.0  # time.monotonic() of the last commit

    async def record(self, events: Sequence[NewEvent]) -> Recorded:
        """Store the events durably (committed when this returns), with one status each."""
        if not events:
            return Recorded()
        if self._task is None or self._task.done():  # not running (or stopped): write alone
            recorded = await record(self._database, events)
            self._stored()
            return recorded
        answer: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.append(_Submission(events, answer))
        self._wake.set()
        return await answer

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="attendance-writer")

    async def stop(self) -> None:
        """Write what was handed in, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                taken: list[_Submission] = []
                count = 0
                while self._queue and (
                    not taken or count + len(self._queue[0].events) <= self._limit
                ):
                    submission = self._queue.pop(0)
                    taken.append(submission)
                    count += len(submission.events)
                await self._write(taken)
            if self._stopping:
                return

    async def _write(self, taken: list[_Submission]) -> None:
        try:
            recorded = await record(self._database, [e for s in taken for e in s.events])
        except Exception as exc:
            if len(taken) > 1:  # one bad submission must not fail the others: each alone
                for submission in taken:
                    await self._write([submission])
                return
            _settle(taken[0].answer, exc)
            return
        for submission, part in zip(
            taken, _split(recorded, [len(s.events) for s in taken]), strict=True
        ):
            _settle(submission.answer, part)
        self.last_write = time.monotonic()
        self._stored()


def _settle(answer: asyncio.Future[Recorded], outcome: Recorded | BaseException) -> None:
    if answer.done():  # the request went away; its events are stored all the same
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


async def record_batch(services: Services, writer: Writer, events: Sequence[NewEvent]) -> Recorded:
    """The attendance API's batch, stored by ``writer``. Where no projector runs in this process
    (``TRACKER_SCHEDULER=off``) its awards are computed before the answer, as they were before
    the writer existed; elsewhere they follow behind it. (The Zoom webhook never waits: it
    answers once the facts are committed; any process with a projector computes them.)"""
    recorded = await writer.record(events)
    if recorded.accepted:
        await project_soon(services)
    return recorded


# Matching later --------------------------------------------------------------------------------


async def match_later_events(services: Services) -> Recorded:
    """Events kept unmatched until now may name a physician, series or occurrence that exists
    now: match them, mark their awards pending (one transaction), then project them."""
    async with services.database.session() as session:
        matched = await match_pending(session)
        await session.commit()
    if matched.pairs or matched.ended:
        await project_soon(services)
    return matched


async def project_soon(services: Services) -> None:
    """After a commit that left awards pending: wake this process's projector, or, where none
    runs, recompute them now (readers settle what they need either way)."""
    if services.project_soon is not None:
        services.project_soon()
    else:
        await project_all(services)


# Projection ------------------------------------------------------------------------------------


async def project_pending(
    services: Services,
    *,
    occurrence_id: int | None = None,
    physician_id: int | None = None,
    limit: int = PROJECTION_BATCH,
) -> int:
    """Claim up to ``limit`` pending awards (of one occurrence or physician if given),
    recompute them in one transaction that also forgets them, then queue the certificates of
    closed occurrences whose final credits changed; returns how many were claimed."""
    claimed = await _project(services.database, occurrence_id, physician_id, limit)
    if claimed:
        await projections.certify_closed(services, {c.occurrence_id for c in claimed})
    return len(claimed)


async def _project(
    database: Database, occurrence_id: int | None, physician_id: int | None, limit: int
) -> list[Claimed]:
    owner = uuid.uuid4().hex
    async with database.session() as session:
        claimed = await claim_pending(
            session,
            owner=owner,
            now=utcnow(),
            lease=LEASE,
            limit=limit,
            occurrence_id=occurrence_id,
            physician_id=physician_id,
        )
        await session.commit()
    if not claimed:
        return claimed
    try:
        await _recompute(database, claimed, owner=owner)
    except BaseException:
        with contextlib.suppress(Exception):
            async with database.session() as session:
                await release_pending(session, owner=owner)
                await session.commit()
        raise
    return claimed


async def _recompute(database: Database, claimed: Sequence[Claimed], *, owner: str) -> None:
    ended = {c.occurrence_id for c in claimed if c.physician_id == EVERY_ATTENDEE}
    physicians: dict[int, list[int]] = defaultdict(list)
    for c in claimed:
        if c.physician_id != EVERY_ATTENDEE and c.occurrence_id not in ended:
            physicians[c.occurrence_id].append(c.physician_id)

    async def work(session: AsyncSession) -> None:
        now = utcnow()
        for occurrence_id in sorted(ended):
            await recompute_occurrence(session, occurrence_id, now=now)
        for occurrence_id, ids in sorted(physicians.items()):
            for batch in batches(sorted(ids)):
                await recompute_awards(session, occurrence_id, batch, now=now)
        await finish_pending(session, claimed, owner=owner)

    await retried_once(database, work)  # another process may insert the same award first


async def project_all(services: Services) -> int:
    """Recompute every pending award (a CLI command, or a caller that wants them current)."""
    total = 0
    while count := await project_pending(services):
        total += count
    return total


async def settle(
    services: Services,
    *,
    occurrence_id: int | None = None,
    physician_id: int | None = None,
    within: float = 30.0,
) -> None:
    """Make the awards of this occurrence or physician current: recompute what is pending for
    them, and wait for what another projector holds (until it is done, or ``within`` seconds
    have passed, when its claim is left to run out)."""

    async def step() -> int:
        return await project_pending(
            services, occurrence_id=occurrence_id, physician_id=physician_id
        )

    await _until_settled(services.database, step, occurrence_id, physician_id, within)


async def settle_occurrence(database: Database, occurrence_id: int, within: float = 30.0) -> None:
    """Finalisation's first step: every pending award of the occurrence recomputed, or waited
    for; no certificate here (finalisation queues them once every award is final)."""

    async def step() -> int:
        return len(await _project(database, occurrence_id, None, PROJECTION_BATCH))

    await _until_settled(database, step, occurrence_id, None, within)


async def _until_settled(
    database: Database,
    step: Callable[[], Awaitable[int]],
    occurrence_id: int | None,
    physician_id: int | None,
    within: float,
) -> None:
    deadline = time.monotonic() + within
    while True:
        async with database.session() as session:  # a read: most often nothing is pending
            left = await pending_count(
                session, occurrence_id=occurrence_id, physician_id=physician_id
            )
        if not left:
            return
        if await step():
            continue
        if time.monotonic() > deadline:
            log.warning("awards still pending after %.0f s; reading them as they are", within)
            return
        await asyncio.sleep(0.02)  # another projector holds them: it is at work


class Projector:
    """Recomputes pending awards behind the answers, in this process: woken by its writer after
    each commit, and every ``every`` seconds for what other processes stored or left behind.

    Answers come first: while this process's writer is busy (it committed within ``quiet``
    seconds) the projector waits, though never more than ``patience`` seconds between batches,
    so a long storm is answered at full speed and its awards follow as it calms down.
    """

    def __init__(self, *, every: float = 1.0, quiet: float = 0.2, patience: float = 15.0) -> None:
        self._every, self._quiet, self._patience = every, quiet, patience
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._last_write: Callable[[], float] = lambda: 0.0

    def poke(self) -> None:
        self._wake.set()

    def start(self, services: Services, *, last_write: Callable[[], float] | None = None) -> None:
        """Run; ``last_write`` tells when this process's writer last committed."""
        if last_write is not None:
            self._last_write = last_write
        self._task = asyncio.create_task(self._run(services), name="award-projector")

    async def stop(self) -> None:
        """Stop after the current batch (what is left stays pending for the next start)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _calm(self) -> None:
        """Wait until the writer has been quiet for a moment (or patience runs out)."""
        waited = time.monotonic()
        while not self._stopping and time.monotonic() - waited < self._patience:
            since = time.monotonic() - self._last_write()
            if since >= self._quiet:
                return
            with contextlib.suppress(TimeoutError):  # stop() sets the event: leave at once
                await asyncio.wait_for(self._stopped(), timeout=self._quiet - since)

    async def _stopped(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()

    async def _drain(self, services: Services) -> None:
        """Batch after batch until nothing is pending (or the service stops)."""
        while True:
            await self._calm()
            if self._stopping or not await project_pending(services):
                return

    async def _run(self, services: Services) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._every)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self._drain(services)
            except Exception:
                log.exception("recomputing pending awards failed; retrying shortly")
                await asyncio.sleep(self._every)
