"""What follows a committed change of an occurrence's window: awards are recomputed,
certificates of closed occurrences re-issued when their credits changed, and registered
physicians told that a session moved. (New attendance is projected by
:mod:`tracker.services.ingestion`, which calls :func:`certify_closed` too.)

Services call these after their own commit. A failure here is logged and never undoes what was
recorded: the finalisation job recomputes every award from the stored events anyway.
"""

from __future__ import annotations

import functools
import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from schedules.models import Occurrence
from tracker.domain.awards import is_closed, recompute_occurrence
from tracker.domain.mailings import enqueue_notices, notice_recipients
from tracker.services.certificates import issue_certificates
from tracker.services.context import Services
from tracker.services.transactions import queue_in_batches, retried_once

log = logging.getLogger(__name__)


async def occurrence_changed(services: Services, occurrence_id: int) -> None:
    """An occurrence moved, was cancelled or restored: its credits depend on its window, and its
    registered physicians get a notice."""
    try:
        await retried_once(
            services.database,
            lambda session: recompute_occurrence(session, occurrence_id, now=utcnow()),
        )
        async with services.database.session() as session:
            occurrence = await session.get(Occurrence, occurrence_id)
            everyone = (
                await notice_recipients(session, occurrence.series_id, occurrence_id)
                if occurrence
                else []
            )
            await queue_in_batches(
                session,
                everyone,
                lambda batch: enqueue_notices(
                    session, services.mail, occurrence_id, now=utcnow(), recipients=batch
                ),
            )
        await certify_closed(services, {occurrence_id})
    except Exception:
        log.exception("reacting to the change of occurrence %d failed", occurrence_id)


async def windows_changed(services: Services, occurrence_ids: set[int]) -> None:
    """A series edit changed the window of these occurrences, which hold attendance: their
    awards are recomputed (no notice: the edit's feed update tells of the new times, and one
    email per session moved would flood every physician of a long series)."""
    for occurrence_id in sorted(occurrence_ids):
        try:
            await retried_once(
                services.database, functools.partial(_recompute, occurrence_id=occurrence_id)
            )
        except Exception:
            log.exception("recomputing occurrence %d after a series edit failed", occurrence_id)
    await certify_closed(services, occurrence_ids)


async def _recompute(session: AsyncSession, *, occurrence_id: int) -> None:
    await recompute_occurrence(session, occurrence_id, now=utcnow())


async def certify_closed(services: Services, occurrence_ids: set[int]) -> None:
    """Queue the certificates of those of these occurrences that are closed (a final award that
    changed gets its new version; the outbox keys make the rest a no-op)."""
    async with services.database.session() as session:
        closed = [o for o in sorted(occurrence_ids) if await is_closed(session, o)]
    for occurrence_id in closed:
        await issue_certificates(
            services.database,
            services.mail,
            occurrence_id,
            now=utcnow(),
            poke=services.poke,
            pdfs=services.pdfs,
        )
    services.poke()
