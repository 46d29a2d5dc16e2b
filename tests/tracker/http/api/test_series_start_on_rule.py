"""A recurring series starts on a date of its own rule: RFC 5545 leaves a DTSTART off its RRULE
undefined (vobject counts it as the first instance, recurring_ical_events adds it, ical.js,
node-ical, dateutil and the service skip it: three answers for one feed).

New starts off the rule are refused, naming the rule's first date; a series stored before
that publishes the rule's first date as DTSTART, so every engine agrees with the service.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape
from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from schedules.models import Series
from tests.calendar_readers import READERS, Instance, read_with_every_reader
from tests.factories import create_series, occurrences, series_body
from tests.tracker.http.pages.test_organiser_pages import _page, organiser_cookie
from tracker.db import Database


async def _problem(response: Any) -> dict[str, Any]:
    assert response.status == 422, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_creating_a_series_whose_start_is_off_its_rule_is_422_naming_the_first_date(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/api/series",
        json=series_body(start="2027-03-02T12:30:00", rrule="FREQ=WEEKLY;COUNT=4;BYDAY=MO"),
        headers=auth,
    )

    body = await _problem(response)
    assert body["errors"] == [
        {
            "field": "start",
            "message": "Tuesday 2027-03-02 12:30 is not a date of the rule (rrule); the first "
            "date the rule gives from there is Monday 2027-03-08 12:30: start the series then, "
            "or change the rule",
        }
    ]
    assert (await (await client.get("/api/series", headers=auth)).json())["items"] == []


async def test_editing_the_start_or_the_rule_off_each_other_is_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)  # Mondays from 1 March 2027

    new_start = await client.patch(
        f"/api/series/{created['id']}", json={"start": "2027-03-03T12:30:00"}, headers=auth
    )
    new_rule = await client.patch(
        f"/api/series/{created['id']}", json={"rrule": "FREQ=WEEKLY;BYDAY=TU"}, headers=auth
    )
    both = await client.patch(
        f"/api/series/{created['id']}",
        json={"start": "2027-03-02T12:30:00", "rrule": "FREQ=WEEKLY;COUNT=8;BYDAY=TU"},
        headers=auth,
    )

    assert "Monday 2027-03-08 12:30" in (await _problem(new_start))["errors"][0]["message"]
    assert "Tuesday 2027-03-02 12:30" in (await _problem(new_rule))["errors"][0]["message"]
    assert both.status == 200, await both.text()


async def test_the_series_form_refuses_a_start_off_the_rule_in_the_page_language(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)
    form = (await _page(client, "/organizer?lang=fr", cookie)).by_id("series-form")
    form.update(
        title="Les mardis",
        timezone="Europe/Paris",
        start="2027-03-02T12:30",
        duration_minutes="60",
        repeat="custom",  # the raw rule of the form's Advanced part, not the picker's
        rrule="FREQ=WEEKLY;BYDAY=MO",
        join_url="https://zoom.us/j/81234567890",
    )

    response = await client.post("/organizer/series?lang=fr", data=form, headers=cookie)

    assert response.status == 422
    assert (
        "Premier début (heure locale)\u00a0: mardi 2 mars 2027 à 12:30 n’est pas une date de la "
        "règle\u202f; la première date que donne la règle à partir de là est le lundi 8 mars "
        "2027 à 12:30." in unescape(await response.text())
    )


async def test_a_stored_series_starting_off_its_rule_publishes_the_rules_first_date(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth, rrule="FREQ=WEEKLY;COUNT=4;BYDAY=MO")
    async with database.session() as session:  # as stored before starts were checked
        series = await session.get_one(Series, created["id"])
        series.start_local = datetime.fromisoformat("2027-02-23T12:30:00")  # a Tuesday
        await session.commit()
    stored = [
        Instance(datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"]), "")
        for row in await occurrences(client, auth, created["id"])
    ]

    for path in ("/calendar.ics", f"/series/{created['slug']}.ics"):
        body = await (await client.get(path)).read()
        seen = read_with_every_reader(
            body, start=datetime(2027, 1, 1, tzinfo=UTC), end=datetime(2028, 1, 1, tzinfo=UTC)
        )

        assert len(stored) == 4
        for reader in READERS:
            assert [(i.start, i.end) for i in seen[reader]] == [(i.start, i.end) for i in stored], (
                f"{reader} on {path}"
            )
        master = Calendar.from_ical(body).walk("VEVENT")[0]
        assert master.start == stored[0].start  # type: ignore[attr-defined]  # walk() types Events as Component
