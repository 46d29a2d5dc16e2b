"""Every datetime read back from either engine is aware and in UTC, whatever zone it was written
in, to the microsecond; a missing one stays missing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from schedules.clock import UTCDateTime
from tracker.db import Database

_TIMES = Table(
    "clock_check",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
)
PARIS = ZoneInfo("Europe/Paris")
WRITTEN = [
    datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=PARIS),  # the last second before DST
    datetime(2026, 3, 29, 3, 0, tzinfo=PARIS),  # the first one after
    datetime(2026, 12, 7, 23, 59, 59, 999999, tzinfo=UTC),
    None,
]


async def test_times_come_back_aware_in_utc_to_the_microsecond(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_TIMES.metadata.create_all)
        await connection.execute(
            insert(_TIMES), [{"id": n, "at": at} for n, at in enumerate(WRITTEN)]
        )
        read = (await connection.execute(select(_TIMES.c.at).order_by(_TIMES.c.id))).scalars().all()

    assert read == WRITTEN
    assert [value.tzinfo for value in read if value is not None] == [UTC, UTC, UTC]
    assert read[0] is not None and read[0].hour == 0  # 01:59:59 in Paris, 00:59:59 UTC
