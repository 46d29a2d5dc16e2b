"""Every feed read back by calendar engines nobody here wrote (ical.js, node-ical, vobject,
recurring_ical_events), against the occurrences the service itself stores.

A subscriber's calendar expands an unbounded RRULE years past the service's horizon, with the
feed's own VTIMEZONE (ical.js, vobject) or its own zone data (node-ical,
recurring_ical_events); each instance must be where the service will hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.calendar_readers import READERS, Instance, read_with_every_reader
from tests.factories import create_physician, create_series, occurrences
from tracker.db import Database
from tracker.jobs import extend_horizons_job

pytestmark = pytest.mark.any_engine

SUBSCRIBED = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
#: Three years of instances, far past the horizon the service had materialised when subscribed.
SHOWN_FROM = datetime(2026, 10, 1, tzinfo=UTC)
SHOWN_UNTIL = datetime(2029, 10, 27, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    series: list[dict[str, Any]]
    token: str


async def _world(client: TestClient, auth: dict[str, str]) -> World:
    """A Monday 12:30 Paris series from 26 October 2026 (the day after the change to winter
    time) and a Thursday 18:00 New York one from 29 October 2026, both unbounded, one Paris
    session cancelled, one New York session moved across the American change; a physician
    registered to both."""
    with time_machine.travel(SUBSCRIBED, tick=False):
        paris = await create_series(
            client,
            auth,
            title="Les lundis de la santé numérique",
            start="2026-10-26T12:30:00",
            rrule="FREQ=WEEKLY;BYDAY=MO",
        )
        new_york = await create_series(
            client,
            auth,
            title="Thursday grand rounds",
            timezone="America/New_York",
            start="2026-10-29T18:00:00",
            rrule="FREQ=WEEKLY;BYDAY=TH",
            language="en",
        )
        paris_rows = await occurrences(client, auth, paris["id"])
        new_york_rows = await occurrences(client, auth, new_york["id"])
        cancel = await client.patch(
            f"/api/occurrences/{paris_rows[2]['id']}", json={"status": "cancelled"}, headers=auth
        )
        move = await client.patch(
            f"/api/occurrences/{new_york_rows[0]['id']}",
            json={"start": "2026-11-02T08:00:00"},
            headers=auth,
        )
        assert (cancel.status, move.status) == (200, 200), await move.text()
        physician = await create_physician(client, auth)
        for series in (paris, new_york):
            response = await client.post(
                f"/api/series/{series['id']}/registrations",
                json={"physician_id": physician["id"]},
                headers=auth,
            )
            assert response.status == 201, await response.text()
        listed = [
            await (await client.get(f"/api/series/{s['id']}", headers=auth)).json()
            for s in (paris, new_york)
        ]
    return World(listed, physician["token"])


async def _feeds(client: TestClient, world: World) -> dict[str, tuple[bytes, list[int]]]:
    """Every feed as a subscriber got it on the day they subscribed, and the series it holds."""
    paths = {
        "/calendar.ics": [0, 1],
        f"/series/{world.series[0]['slug']}.ics": [0],
        f"/series/{world.series[1]['slug']}.ics": [1],
        f"/feeds/{world.token}.ics": [0, 1],
    }
    feeds = {}
    with time_machine.travel(SUBSCRIBED, tick=False):
        for path, held in paths.items():
            response = await client.get(path)
            assert response.status == 200, await response.text()
            feeds[path] = (await response.read(), held)
    return feeds


async def _stored(
    client: TestClient, auth: dict[str, str], database: Database, world: World
) -> list[Instance]:
    """The instances the service holds for three years: its horizon job run in 2029, when
    those sessions are within its horizon; cancelled sessions are not shown, moved ones at
    their new time."""
    with time_machine.travel(datetime(2029, 1, 1, tzinfo=UTC), tick=False):
        await extend_horizons_job(database)
    stored = []
    for series in world.series:
        for row in await occurrences(client, auth, series["id"]):
            start = datetime.fromisoformat(row["start"])
            if row["status"] != "cancelled" and SHOWN_FROM <= start < SHOWN_UNTIL:
                stored.append(Instance(start, datetime.fromisoformat(row["end"]), series["uid"]))
    return stored


def _seen(instances: list[Instance]) -> list[tuple[str, datetime, datetime]]:
    return sorted((i.uid, i.start, i.end) for i in instances)


async def test_every_reader_sees_every_feed_instance_where_the_service_holds_it(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    world = await _world(client, auth)
    feeds = await _feeds(client, world)

    stored = await _stored(client, auth, database, world)

    assert len({i.uid for i in stored}) == 2 and len(stored) > 2 * 150
    for path, (body, held) in feeds.items():
        wanted = _seen([i for i in stored if i.uid in {world.series[n]["uid"] for n in held}])
        seen = read_with_every_reader(body, start=SHOWN_FROM, end=SHOWN_UNTIL)
        for reader in READERS:
            wrong = sorted(set(_seen(seen[reader])) ^ set(wanted))
            assert wrong == [], f"{reader} reads {path} differently from the service: {wrong[:6]}"


async def test_every_feed_describes_its_zones_past_the_horizon_with_a_yearly_rule(
    client: TestClient, auth: dict[str, str]
) -> None:
    world = await _world(client, auth)

    for path, (body, _held) in (await _feeds(client, world)).items():
        calendar = Calendar.from_ical(body)
        for zone in calendar.walk("VTIMEZONE"):
            observances = zone.walk("STANDARD") + zone.walk("DAYLIGHT")
            rules = [str(o["RRULE"].to_ical().decode()) for o in observances if "RRULE" in o]
            assert len(rules) == 2, f"{path} {zone['TZID']}: {rules}"
            assert all("RDATE" not in o for o in observances), path


async def test_refresh_interval_carries_value_duration_in_every_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    world = await _world(client, auth)

    for path, (body, _held) in (await _feeds(client, world)).items():
        lines = body.decode().splitlines()
        assert [line for line in lines if line.startswith("REFRESH-INTERVAL")] == [
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H"
        ], path


async def test_every_feed_source_is_the_url_it_is_served_at(
    client: TestClient, auth: dict[str, str]
) -> None:
    world = await _world(client, auth)

    for path, (body, _held) in (await _feeds(client, world)).items():
        source = str(Calendar.from_ical(body)["SOURCE"])
        assert source == f"https://cme.example.org{path}"
        with time_machine.travel(SUBSCRIBED, tick=False):
            again = await client.get(source.removeprefix("https://cme.example.org"))
        assert (again.status, await again.read()) == (200, body), path
