"""The demo series: weekly Monday 12:30 Paris, 1 AMA credit, French, one cancelled, one moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from schedules.clock import utcnow
from tracker.db import Database
from tracker.services.demo import load_demo

pytestmark = pytest.mark.any_engine

PARIS = ZoneInfo("Europe/Paris")


async def test_demo_feed_shows_mondays_at_half_past_twelve_but_one_cancelled_and_one_moved(
    client: TestClient, database: Database
) -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
    series = await load_demo(database, now=now)
    assert series is not None

    calendar = Calendar.from_ical(await (await client.get("/calendar.ics")).read())
    events = recurring_ical_events.of(calendar).between(now, now + timedelta(weeks=8))
    starts = sorted(event.start.astimezone(PARIS) for event in events)

    mondays = [start for start in starts if start.weekday() == 0]
    others = [start for start in starts if start.weekday() != 0]
    assert {(start.hour, start.minute) for start in mondays} == {(12, 30)}
    assert [(start.strftime("%a"), start.hour) for start in others] == [("Tue", 18)]
    assert len(mondays) == 8 - 2  # eight weeks, one cancelled, one moved to Tuesday
    assert (series.language, series.credits, series.duration_minutes) == (
        "fr",
        [{"type": "AMA_PRA_1", "max": 1.0}],
        60,
    )


async def test_demo_is_loaded_once(database: Database) -> None:
    first = await load_demo(database, now=utcnow())
    second = await load_demo(database, now=utcnow())

    assert (first is not None, second) == (True, None)
