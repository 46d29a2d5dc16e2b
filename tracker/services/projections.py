"""What follows a committed change of an occurrence's window: awards are recomputed,
certificates of closed occurrences re-issued when their credits changed, and registered
physicians told that a session moved. (New attendance is projected by
:mod:`tracker.services.ingestion`, which calls :func:`certify_closed` too.)

Services call these after their own commit. A failure here is logged and never undoes what was
recorded: the finalisation job recomputes every award from the stored events anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from schedules.models import Occurrence
from tracker.domain.awards import is_closed, recompute_occurrence
from tracker.domain.mailings import MAIL_BATCH, enqueue_notices, reminder_recipients
from tracker.services.certificates import issue_certificates
from tracker.services.context import Services

log = logging.getLogger(__name__)


async def occurrence_changed(services: Services, occurrence_id: int) -> None:
    """An occurrence moved, was cancelled or restored: its credits depend on its window, and its
    registered physicians get a notice."""
    try:
        await _in_transaction(
            services,
            lambda session: recompute_occurrence(session, occurrence_id, now=utcnow()),
        )
        async with services.database.session() as session:
            occurrence = await session.get(Occurrence, occurrence_id)
            everyone = (
                await reminder_recipients(session, occurrence.series_id) if occurrence else []
            )
            for first in range(0, len(everyone), MAIL_BATCH):  # one commit per batch
                batch = everyone[first : first + MAIL_BATCH]
                await enqueue_notices(
                    session, services.mail, occurrence_id, now=utcnow(), recipients=batch
                )
                await session.commit()
        await certify_closed(services, {occurrence_id})
    except Exception:
        log.exception("reacting to the change of occurrence %d failed", occurrence_id)


async def _in_transaction(
    services: Services, work: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    for attempt in (1, 2):  # another process may insert the same award first: redo once
        async with services.database.session() as session:
            try:
                await work(session)
                await session.commit()
                return
            except IntegrityError:
                await session.rollback()
                if attempt == 2:
                    raise


async def certify_closed(services: Services, occurrence_ids: set[int]) -> None:
    """Queue the certificates of those of these occurrences that are closed (a final award that
    changed gets its new version; the outbox keys make the rest a no-op)."""
    async with services.database.session() as session:
        closed = [o for o in sorted(occurrence_ids) if await is_closed(session, o)]
    for occurrence_id in closed:
        await issue_certificates(
            services.database, services.mail, occurrence_id, now=utcnow(), poke=services.poke
        )
    services.poke()
