"""Keeping at least 12 months of occurrences materialised for every recurring series."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from schedules.clock import utcnow
from schedules.occurrences import extend_horizons
from tracker.db import Database

log = logging.getLogger(__name__)


async def extend_all(database: Database) -> int:
    """Materialise occurrences up to every series' horizon; returns how many series grew.
    Two processes may race on the same series: the loser rolls back and the next run redoes it."""
    async with database.session() as session:
        try:
            count = await extend_horizons(session, now=utcnow())
            await session.commit()
        except IntegrityError:
            await session.rollback()
            log.info("horizon extension raced with another process; it will run again")
            return 0
    if count:
        log.info("extended the occurrence horizon of %d series", count)
    return count
