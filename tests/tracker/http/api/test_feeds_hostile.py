"""Feeds facing hostile text and rows that could not be stored today but were stored before.

Every user text reaches iCalendar through one cleaning step (``schedules.ical.clean_text``); these
tests go through the three feeds of the real app. A row no feed can show (a session in year 9999,
a series starting in year 1) is left out of the feed it belongs to; the rest is still served.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import recurring_ical_events
from aiohttp.test_utils import TestClient
from icalendar import Calendar
from sqlalchemy import update
from sqlmodel import col, select

from schedules.models import Occurrence, OccurrenceStatus, Series
from tests.factories import create_physician, create_series, occurrences
from tests.ical_text import text_of
from tracker.db import Database
from tracker.domain.models import Physician

pytestmark = pytest.mark.any_engine

LINE_BREAKS = {
    "lf": "\n",
    "cr": "\r",
    "crlf": "\r\n",
    "vt": "\v",
    "ff": "\f",
    "nel": "\x85",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "file-separator": "\x1c",
}
CONTROLS = "".join(chr(code) for code in (*range(1, 9), *range(14, 28), 127)) + "\u200b\u202e"
FEED_PATHS = ("/calendar.ics", "/series/{slug}.ics", "/feeds/{token}.ics")


async def _registered(
    client: TestClient, auth: dict[str, str], **series: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A public series and a physician registered to it (so that all three feeds show it)."""
    created = await create_series(client, auth, **series)
    physician = await create_physician(client, auth)
    response = await client.post(
        f"/api/series/{created['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    assert response.status == 201, await response.text()
    return created, physician


async def _read(client: TestClient, path: str) -> Calendar:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return Calendar.from_ical(await response.read())


def _paths(series: dict[str, Any], physician: dict[str, Any]) -> list[str]:
    return [p.format(slug=series["slug"], token=physician["token"]) for p in FEED_PATHS]


def _between(calendar: Calendar, first: date, last: date) -> list[Any]:
    return list(recurring_ical_events.of(calendar).between(first, last))


@pytest.mark.parametrize("brk", list(LINE_BREAKS.values()), ids=list(LINE_BREAKS))
async def test_every_feed_serves_a_series_whose_title_and_description_hold_a_line_break(
    client: TestClient, auth: dict[str, str], brk: str
) -> None:
    series, physician = await _registered(
        client, auth, title=f"Séance{brk}spéciale", description=f"Ligne 1{brk}Ligne 2; a, b"
    )

    calendars = [await _read(client, path) for path in _paths(series, physician)]

    for calendar in calendars:
        (event,) = calendar.walk("VEVENT")[:1]
        assert str(event["SUMMARY"]) == "Séance\nspéciale"
        assert str(event["DESCRIPTION"]).startswith("Ligne 1\nLigne 2; a, b\n\n")
    series_calendar = calendars[1]
    assert [text_of(series_calendar, name) for name in ("NAME", "X-WR-CALNAME")] == [
        "Séance\nspéciale"
    ] * 2
    assert [text_of(series_calendar, name) for name in ("DESCRIPTION", "X-WR-CALDESC")] == [
        "Ligne 1\nLigne 2; a, b"
    ] * 2


@pytest.mark.parametrize("brk", list(LINE_BREAKS.values()), ids=list(LINE_BREAKS))
async def test_personal_feed_serves_a_physician_whose_name_holds_a_line_break(
    client: TestClient, auth: dict[str, str], database: Database, brk: str
) -> None:
    """Such a name is refused now (422, test_physicians_api.py); one stored before the check
    still gives a feed every calendar reads."""
    _, physician = await _registered(client, auth)
    refused = await client.patch(
        f"/api/physicians/{physician['id']}",
        json={"first_name": f"Jeanne{brk}Marie"},
        headers=auth,
    )
    async with database.session() as session:
        await session.exec(
            update(Physician)
            .where(col(Physician.id) == physician["id"])
            .values(
                first_name=f"Jeanne{brk}Marie",
                last_name=f"Durand;{CONTROLS}",
                updated_at=datetime.now(UTC),
            )
        )
        await session.commit()
    assert refused.status == 422

    calendar = await _read(client, f"/feeds/{physician['token']}.ics")

    assert text_of(calendar, "X-WR-CALDESC") == text_of(calendar, "DESCRIPTION")
    assert text_of(calendar, "DESCRIPTION") == "Jeanne\nMarie Durand;"
    assert len(calendar.walk("VEVENT")) == 1


async def test_control_characters_and_very_long_text_never_reach_a_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    title = ("Titre" + CONTROLS) * 6
    description = ("é" * 997 + "\r\n") * 19
    series, physician = await _registered(client, auth, title=title, description=description)

    for path in _paths(series, physician):
        response = await client.get(path)
        raw = await response.read()
        calendar = Calendar.from_ical(raw)

        assert response.status == 200
        assert not set(raw.decode()) & set(CONTROLS)
        assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
        event = calendar.walk("VEVENT")[0]
        assert str(event["SUMMARY"]) == "Titre" * 6
        assert str(event["DESCRIPTION"]).startswith(("é" * 997 + "\n") * 18 + "é" * 997 + "\n\n")
        assert len(_between(calendar, date(2027, 1, 1), date(2028, 1, 1))) == 8


async def _store_occurrence_at(database: Database, occurrence_id: int, start: datetime) -> None:
    """What ``PATCH /api/occurrences`` stored before dates were checked: the row as it was."""
    async with database.session() as session:
        row = await session.get_one(Occurrence, occurrence_id)
        row.start, row.end = start, start + timedelta(minutes=60)
        row.status = OccurrenceStatus.MOVED
        await session.commit()


async def _cancel(client: TestClient, auth: dict[str, str], occurrence_id: int) -> None:
    response = await client.patch(
        f"/api/occurrences/{occurrence_id}", json={"status": "cancelled"}, headers=auth
    )
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("cancelled", [False, True], ids=["moved", "moved-then-cancelled"])
async def test_an_occurrence_stored_in_year_9999_leaves_every_feed_served(
    client: TestClient, auth: dict[str, str], database: Database, cancelled: bool
) -> None:
    series, physician = await _registered(client, auth)
    await create_series(client, auth, title="Autre série", rrule=None)
    rows = await occurrences(client, auth, series["id"])
    await _store_occurrence_at(database, rows[3]["id"], datetime(9999, 12, 31, 22, 59, tzinfo=UTC))
    if cancelled:
        await _cancel(client, auth, rows[3]["id"])

    calendars = [await _read(client, path) for path in _paths(series, physician)]

    public, own, personal = calendars
    assert {str(e["SUMMARY"]) for e in public.walk("VEVENT")} == {
        "Les lundis de la santé numérique",
        "Autre série",
    }
    assert len(_between(public, date(2027, 1, 1), date(2028, 1, 1))) == 7 + 1
    for calendar in (own, personal):
        starts = [e.start.date() for e in _between(calendar, date(2027, 1, 1), date(2028, 1, 1))]
        assert date(2027, 3, 22) not in starts
        assert len(starts) == 7


async def test_a_series_stored_starting_in_year_one_leaves_the_public_feed_served(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    broken = await create_series(client, auth, title="Ancienne", rrule=None)
    kept = await create_series(client, auth, title="Gardée")
    async with database.session() as session:
        series = await session.get_one(Series, broken["id"])
        series.start_local = datetime(1, 1, 1, 0, 0, tzinfo=UTC).replace(tzinfo=None)  # local
        (row,) = (
            await session.exec(select(Occurrence).where(Occurrence.series_id == series.id))
        ).all()
        row.recurrence_id = row.start = datetime(1, 1, 1, 0, 0, tzinfo=UTC)
        row.end = row.start + timedelta(minutes=60)
        await session.commit()

    public = await _read(client, "/calendar.ics")
    own = await client.get(f"/series/{broken['slug']}.ics")
    kept_feed = await _read(client, f"/series/{kept['slug']}.ics")

    assert [str(e["SUMMARY"]) for e in public.walk("VEVENT")] == ["Gardée"]
    assert own.status == 200
    assert Calendar.from_ical(await own.read()).walk("VEVENT") == []
    assert len(_between(kept_feed, date(2027, 1, 1), date(2028, 1, 1))) == 8
    assert len(_between(public, date(2027, 1, 1), date(2028, 1, 1))) == 8


async def test_a_series_stored_with_an_unreadable_rule_leaves_the_public_feed_served(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    broken = await create_series(client, auth, title="Cassée")
    await create_series(client, auth, title="Gardée")
    async with database.session() as session:
        series = await session.get_one(Series, broken["id"])
        series.rrule = "FREQ=WEEKLY;BYDAY=XX;UNTIL=99991231T235959Z"
        await session.commit()

    public = await _read(client, "/calendar.ics")

    assert [str(e["SUMMARY"]) for e in public.walk("VEVENT")] == ["Gardée"]
