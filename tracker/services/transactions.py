"""The two shapes of transaction services share: one retried once on a conflict, and a long
list of messages queued in batches with a commit each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.db import Database
from tracker.domain.mailings import MAIL_BATCH, Recipients


async def retried_once(
    database: Database, work: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    """``work`` in one transaction, committed; done again once if another process inserted the
    same row first (an award, a closure), which the second run then reads instead."""
    for attempt in (1, 2):
        async with database.session() as session:
            try:
                await work(session)
                await session.commit()
                return
            except IntegrityError:
                await session.rollback()
                if attempt == 2:
                    raise


async def queue_in_batches(
    session: AsyncSession,
    recipients: Recipients,
    queue: Callable[[Recipients], Awaitable[int]],
) -> int:
    """``queue`` the messages of ``recipients`` :data:`MAIL_BATCH` at a time, one commit each (a
    short write lock on SQLite; a run stopped half-way keeps what it queued); returns how many
    were queued."""
    queued = 0
    for first in range(0, len(recipients), MAIL_BATCH):
        queued += await queue(recipients[first : first + MAIL_BATCH])
        await session.commit()
    return queued
