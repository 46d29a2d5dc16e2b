"""Making an occurrence's credits final: resumable, in short transactions, one process at a time.

The closure row is both the switch (from its insert on, every computation of the occurrence is
final) and a lease: the process that holds it computes the awards batch by batch, each batch its
own short transaction, renewing the lease as it goes. A process stopped politely gives the lease
back between two batches; a killed one simply lets it run out. Either way the planner sees a
closure that is not complete and starts the work again, which is idempotent (a final award
whose credits did not change is written as it was). The closure is complete only once every
award is final and the certificates are queued.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.rendering import INLINE, Renderer
from schedules.clock import utcnow
from schedules.models import Occurrence
from tracker.db import Database
from tracker.domain import credit_rules
from tracker.domain.awards import BATCH, attendee_ids, batches, recompute_awards
from tracker.domain.mailings import MailSettings
from tracker.domain.models import OccurrenceClosure
from tracker.services.certificates import issue_certificates
from tracker.services.ingestion import settle_occurrence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    """Who finalises (one id per process) and how long a claim lasts without renewal."""

    owner: str
    length: timedelta = timedelta(minutes=2)


def _claimable(occurrence_id: int, lease: Lease, now: datetime) -> object:
    return (
        (col(OccurrenceClosure.occurrence_id) == occurrence_id)
        & col(OccurrenceClosure.completed_at).is_(None)
        & or_(
            col(OccurrenceClosure.lease_until).is_(None),
            col(OccurrenceClosure.lease_until) < now,
            col(OccurrenceClosure.lease_owner) == lease.owner,
        )
    )


async def claim(
    database: Database, occurrence_id: int, *, now: datetime, grace: timedelta, lease: Lease
) -> bool:
    """Close the occurrence (its credits are final from now on) or take over an unfinished
    closure whose lease ran out; False when it is not due, complete, or another process's."""
    async with database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None or occurrence.end + grace > now:
            return False
        if await session.get(OccurrenceClosure, occurrence_id) is None:
            session.add(
                OccurrenceClosure(
                    occurrence_id=occurrence_id,
                    closed_at=now,
                    lease_owner=lease.owner,
                    lease_until=now + lease.length,
                )
            )
            try:
                await session.flush()
                # the session's rules are fixed with its closure, in the same transaction
                await credit_rules.fix_rules(session, occurrence_id)
                await session.commit()
                return True
            except IntegrityError:  # another process closed it a moment earlier
                await session.rollback()
        renewed = await _renew(session, occurrence_id, lease=lease, now=now)
        await session.commit()
        return renewed


async def _renew(session: AsyncSession, occurrence_id: int, *, lease: Lease, now: datetime) -> bool:
    """Take or extend the lease, in the caller's transaction (the caller commits)."""
    result = await session.exec(
        update(OccurrenceClosure)
        .where(_claimable(occurrence_id, lease, now))  # type: ignore[arg-type]
        .values(lease_owner=lease.owner, lease_until=now + lease.length)
    )
    return bool(result.rowcount == 1)


async def finalize_awards(
    database: Database,
    occurrence_id: int,
    *,
    now: datetime,
    lease: Lease,
    stopping: asyncio.Event | None = None,
    batch_size: int = BATCH,
) -> bool:
    """Make every award of a claimed occurrence final, ``batch_size`` per transaction; True when
    all are. Stops between batches when ``stopping`` is set (giving the lease back) or when
    the lease was lost to another process. Awards left pending by attendance are recomputed
    (or waited for) first, so that no projection started before the closure writes after it."""
    await settle_occurrence(database, occurrence_id)
    async with database.session() as session:
        physician_ids = await attendee_ids(session, occurrence_id)
    for batch in batches(physician_ids, batch_size):
        if stopping is not None and stopping.is_set():
            await release(database, occurrence_id, lease=lease)
            log.info("finalisation of occurrence %s paused by shutdown", occurrence_id)
            return False
        async with database.session() as session:
            if not await _renew(session, occurrence_id, lease=lease, now=utcnow()):
                log.info("finalisation of occurrence %s is another process's now", occurrence_id)
                return False
            await recompute_awards(session, occurrence_id, batch, now=now)
            await session.commit()
    log.info(
        "credits of occurrence %s are final (%d physicians)", occurrence_id, len(physician_ids)
    )
    return True


async def finalize(
    database: Database,
    occurrence_id: int,
    *,
    now: datetime,
    grace: timedelta,
    lease: Lease | None = None,
    stopping: asyncio.Event | None = None,
) -> bool:
    """Claim the occurrence once ``end + grace`` has passed and make every award final; True
    when this call made them all final (certificates are the caller's next step)."""
    lease = lease or Lease(owner=uuid.uuid4().hex)
    if not await claim(database, occurrence_id, now=now, grace=grace, lease=lease):
        return False
    return await finalize_awards(database, occurrence_id, now=now, lease=lease, stopping=stopping)


async def certify(
    database: Database,
    mail: MailSettings,
    occurrence_id: int,
    *,
    lease: Lease,
    stopping: asyncio.Event | None = None,
    poke: Callable[[], None] = lambda: None,
    pdfs: Renderer = INLINE,
) -> bool:
    """After :func:`finalize_awards`: queue the certificates, renewing the lease before each
    batch, then mark the closure complete; True when it is. Issuing a large session's
    certificates takes longer than a lease: without the renewal, every other process's planner
    would take the closure over and compose the same certificates again. Stops between two
    batches when ``stopping`` is set (giving the lease back) or the lease was lost."""
    held = True

    async def still_ours() -> bool:
        nonlocal held
        if stopping is not None and stopping.is_set():
            await release(database, occurrence_id, lease=lease)
            log.info("certificates of occurrence %s paused by shutdown", occurrence_id)
            held = False
        elif not await keep(database, occurrence_id, lease=lease, now=utcnow()):
            log.info("certificates of occurrence %s are another process's now", occurrence_id)
            held = False
        return held

    await issue_certificates(
        database, mail, occurrence_id, now=utcnow(), poke=poke, still_ours=still_ours, pdfs=pdfs
    )
    if not held:
        return False
    await complete(database, occurrence_id, lease=lease, now=utcnow())
    return True


async def finalise_session(
    database: Database,
    mail: MailSettings,
    occurrence_id: int,
    *,
    now: datetime,
    grace: timedelta,
    lease: Lease,
    stopping: asyncio.Event | None = None,
    batch_size: int = BATCH,
    poke: Callable[[], None] = lambda: None,
    pdfs: Renderer = INLINE,
) -> bool:
    """The planner's use case: claim the occurrence once ``end + grace`` has passed, make every
    award final, then issue its certificates; True when all of it is done. Resumable: a run
    stopped half-way (a stop, a crash, a lost lease) is picked up by the next planner run, here
    or in another process."""
    if not await claim(database, occurrence_id, now=now, grace=grace, lease=lease):
        return False
    done = await finalize_awards(
        database, occurrence_id, now=now, lease=lease, stopping=stopping, batch_size=batch_size
    )
    if not done:
        return False
    certified = await certify(
        database, mail, occurrence_id, lease=lease, stopping=stopping, poke=poke, pdfs=pdfs
    )
    poke()
    return certified


async def keep(database: Database, occurrence_id: int, *, lease: Lease, now: datetime) -> bool:
    """Renew this process's lease on an unfinished closure; False when it is not ours any more."""
    async with database.session() as session:
        renewed = await _renew(session, occurrence_id, lease=lease, now=now)
        await session.commit()
    return renewed


async def complete(database: Database, occurrence_id: int, *, lease: Lease, now: datetime) -> None:
    """Mark a finalisation done (every award final, certificates queued)."""
    await _let_go(database, occurrence_id, lease, completed_at=now)


async def release(database: Database, occurrence_id: int, *, lease: Lease) -> None:
    """Give the lease back so that the next planner run (here or elsewhere) resumes at once."""
    await _let_go(database, occurrence_id, lease)


async def _let_go(database: Database, occurrence_id: int, lease: Lease, **values: object) -> None:
    """End this process's lease on the closure, setting ``values`` too."""
    async with database.session() as session:
        await session.exec(
            update(OccurrenceClosure)
            .where(
                col(OccurrenceClosure.occurrence_id) == occurrence_id,
                col(OccurrenceClosure.lease_owner) == lease.owner,
            )
            .values(lease_owner=None, lease_until=None, **values)
        )
        await session.commit()


async def due_for_finalisation(
    database: Database, *, now: datetime, grace: timedelta, until: datetime | None = None
) -> list[tuple[int, datetime]]:
    """Occurrences to finalise with the time to do it, by ``until`` (default: ``now``): those not
    closed yet at ``end + grace``; unfinished ones when their lease runs out (at once if it has,
    or was given back)."""
    until = until or now
    query = (
        select(Occurrence.id, Occurrence.end, OccurrenceClosure.lease_until)
        .outerjoin(OccurrenceClosure, col(OccurrenceClosure.occurrence_id) == col(Occurrence.id))
        .where(
            Occurrence.end <= until - grace,
            or_(
                col(OccurrenceClosure.occurrence_id).is_(None),
                col(OccurrenceClosure.completed_at).is_(None),
            ),
        )
        .order_by(col(Occurrence.end))
    )
    async with database.session() as session:
        rows = (await session.exec(query)).all()
    due = []
    for occurrence_id, end, lease_until in rows:
        # a timer may fire a hair early: a second after the lease runs out, it surely has
        when = max(end + grace, lease_until + timedelta(seconds=1)) if lease_until else end + grace
        if occurrence_id is not None and when <= until:
            due.append((occurrence_id, when))
    return due
