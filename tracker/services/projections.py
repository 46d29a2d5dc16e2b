"""Wiring of the event bus: what reacts to recorded attendance and changed occurrences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain.awards import is_closed, recompute_awards, recompute_occurrence
from tracker.domain.mailings import MailSettings, enqueue_notices, issue_certificates
from tracker.services.events import AttendanceRecorded, EventBus, OccurrenceChanged


def build_bus(
    database: Database, mail: MailSettings, poke: Callable[[], None] = lambda: None
) -> EventBus:
    """A bus whose credit projection recomputes awards in their own transaction, re-issues the
    certificates of closed occurrences whose credits changed, and sends change notices."""
    bus = EventBus()

    async def in_transaction(work: Callable[[AsyncSession], Awaitable[None]]) -> None:
        for attempt in (1, 2):  # another process may insert the same award first: redo once
            async with database.session() as session:
                try:
                    await work(session)
                    await session.commit()
                    return
                except IntegrityError:
                    await session.rollback()
                    if attempt == 2:
                        raise

    async def certify_closed(occurrence_ids: set[int]) -> None:
        async with database.session() as session:
            for occurrence_id in sorted(occurrence_ids):
                if await is_closed(session, occurrence_id):
                    await issue_certificates(session, mail, occurrence_id, now=utcnow())
        poke()

    async def on_attendance(event: AttendanceRecorded) -> None:
        async def work(session: AsyncSession) -> None:
            for occurrence_id in sorted(event.occurrences):
                await recompute_occurrence(session, occurrence_id, now=utcnow())
            physicians: dict[int, set[int]] = defaultdict(set)
            for occurrence_id, physician_id in event.pairs:
                if occurrence_id not in event.occurrences:
                    physicians[occurrence_id].add(physician_id)
            for occurrence_id, ids in sorted(physicians.items()):  # one pass per occurrence
                await recompute_awards(session, occurrence_id, sorted(ids), now=utcnow())

        await in_transaction(work)
        await certify_closed(set(event.occurrences) | {occurrence for occurrence, _ in event.pairs})

    async def on_occurrence_changed(event: OccurrenceChanged) -> None:
        async def work(session: AsyncSession) -> None:
            await recompute_occurrence(session, event.occurrence_id, now=utcnow())

        await in_transaction(work)
        async with database.session() as session:
            await enqueue_notices(session, mail, event.occurrence_id, now=utcnow())
            await session.commit()
        await certify_closed({event.occurrence_id})

    bus.subscribe(AttendanceRecorded, on_attendance)
    bus.subscribe(OccurrenceChanged, on_occurrence_changed)
    return bus
