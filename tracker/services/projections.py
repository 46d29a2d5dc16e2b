"""What follows a committed change of attendance or of an occurrence's window: awards are
recomputed, certificates of closed occurrences re-issued when their credits changed, and
registered physicians told that a session moved.

Services call these after their own commit. A failure here is logged and never undoes what was
recorded: the finalisation job recomputes every award from the stored events anyway.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tracker.domain.awards import is_closed, recompute_awards, recompute_occurrence
from tracker.domain.mailings import enqueue_notices
from tracker.services.certificates import issue_certificates
from tracker.services.context import Services

log = logging.getLogger(__name__)


async def attendance_recorded(
    services: Services,
    pairs: Iterable[tuple[int, int]],
    ended: Iterable[int] = (),
) -> None:
    """New facts for these (occurrence id, physician id) pairs; ``ended`` occurrences had an end
    event, so every award of theirs is recomputed."""
    pairs, ended = frozenset(pairs), frozenset(ended)
    if not pairs and not ended:
        return

    async def work(session: AsyncSession) -> None:
        for occurrence_id in sorted(ended):
            await recompute_occurrence(session, occurrence_id, now=utcnow())
        physicians: dict[int, set[int]] = defaultdict(set)
        for occurrence_id, physician_id in pairs:
            if occurrence_id not in ended:
                physicians[occurrence_id].add(physician_id)
        for occurrence_id, ids in sorted(physicians.items()):  # one pass per occurrence
            await recompute_awards(session, occurrence_id, sorted(ids), now=utcnow())

    try:
        await _in_transaction(services, work)
        await _certify_closed(services, set(ended) | {occurrence for occurrence, _ in pairs})
    except Exception:
        log.exception("credit projection failed after recording attendance; finalisation redoes it")


async def occurrence_changed(services: Services, occurrence_id: int) -> None:
    """An occurrence moved, was cancelled or restored: its credits depend on its window, and its
    registered physicians get a notice."""
    try:
        await _in_transaction(
            services,
            lambda session: recompute_occurrence(session, occurrence_id, now=utcnow()),
        )
        async with services.database.session() as session:
            await enqueue_notices(session, services.mail, occurrence_id, now=utcnow())
            await session.commit()
        await _certify_closed(services, {occurrence_id})
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


async def _certify_closed(services: Services, occurrence_ids: set[int]) -> None:
    async with services.database.session() as session:
        closed = [o for o in sorted(occurrence_ids) if await is_closed(session, o)]
    for occurrence_id in closed:
        await issue_certificates(
            services.database, services.mail, occurrence_id, now=utcnow(), poke=services.poke
        )
    services.poke()
