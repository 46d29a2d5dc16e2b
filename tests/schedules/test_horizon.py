"""The rolling horizon: at least 12 months of occurrences, never more than 1,000 per series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from schedules.occurrences import extend_horizons, list_occurrences
from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tracker.db import Database

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _weekly(**overrides: object) -> SeriesCreate:
    values: dict[str, object] = {
        "title": "Weekly",
        "timezone": "Europe/Paris",
        "start": "2026-11-30T12:30:00",
        "duration_minutes": 60,
        "rrule": "FREQ=WEEKLY;BYDAY=MO",
        "join_url": "https://zoom.us/j/1",
    }
    values.update(overrides)
    return SeriesCreate.model_validate(values)


async def test_creation_materialises_more_than_twelve_months(database: Database) -> None:
    async with database.session() as session:
        series = await create_series(session, _weekly(), credit_types=[], now=NOW)
        rows = await list_occurrences(session, series.id or 0)

    first_start = rows[0].start
    assert rows[-1].start - NOW > timedelta(days=365)
    assert first_start + timedelta(days=393) <= rows[-1].start <= first_start + timedelta(days=400)


async def test_horizon_job_extends_an_open_ended_series_and_keeps_ids(database: Database) -> None:
    async with database.session() as session:
        series = await create_series(session, _weekly(), credit_types=[], now=NOW)
        await session.commit()
        before = {row.id for row in await list_occurrences(session, series.id or 0)}

    later = NOW + timedelta(days=60)
    with time_machine.travel(later, tick=False):
        async with database.session() as session:
            extended = await extend_horizons(session, now=later)
            await session.commit()
            rows = await list_occurrences(session, series.id or 0)

    assert extended == 1
    assert before < {row.id for row in rows}
    assert rows[-1].start - later > timedelta(days=365)


async def test_horizon_job_skips_series_that_are_far_enough(database: Database) -> None:
    async with database.session() as session:
        await create_series(session, _weekly(), credit_types=[], now=NOW)
        await session.commit()
        assert await extend_horizons(session, now=NOW + timedelta(hours=1)) == 0


async def test_horizon_job_caps_at_one_thousand(database: Database) -> None:
    async with database.session() as session:
        series = await create_series(session, _weekly(rrule="FREQ=DAILY"), credit_types=[], now=NOW)
        await session.commit()
        later = NOW + timedelta(days=3 * 365)
        await extend_horizons(session, now=later)
        await session.commit()
        rows = await list_occurrences(session, series.id or 0)

    assert len(rows) == 1000


async def test_horizon_job_skips_a_series_stored_before_dates_were_checked(
    database: Database,
) -> None:
    async with database.session() as session:
        broken = await create_series(session, _weekly(title="Year one"), credit_types=[], now=NOW)
        kept = await create_series(session, _weekly(), credit_types=[], now=NOW)
        broken.start_local = datetime(1, 1, 1, 0, 0)  # what the API accepted before the window
        await session.commit()
        broken_id, kept_id = broken.id or 0, kept.id or 0

    later = NOW + timedelta(days=60)
    async with database.session() as session:
        extended = await extend_horizons(session, now=later)
        await session.commit()
        rows = await list_occurrences(session, kept_id)
        broken_rows = await list_occurrences(session, broken_id)

    assert extended == 1
    assert rows[-1].start - later > timedelta(days=365)
    assert broken_rows[-1].start - later < timedelta(days=365)
