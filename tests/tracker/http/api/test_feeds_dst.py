"""Sessions whose wall time a change of clocks makes ambiguous: 02:30 in Paris on the night
clocks go back (it happens twice) or forward (it never happens). RFC 5545, this service and
node-ical read such a time as the first instant (or the offset before the gap); ical.js and
vobject read the repeated hour as its second pass, and recurring_ical_events adds a duration on
the wall clock. The feeds write those sessions at their exact time, in UTC, so that every
reader shows every session where the service holds it: rule instances, a moved session, a
single session, and the .ics of one session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from schedules.ical import ambiguous
from tests.calendar_readers import READERS, read_with_every_reader
from tests.factories import create_series, occurrences

pytestmark = pytest.mark.any_engine

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FROM, UNTIL = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def _held(rows: list[dict[str, Any]], uid: str) -> list[tuple[str, datetime, datetime]]:
    return sorted(
        (uid, datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"]))
        for r in rows
        if r["status"] != "cancelled" and FROM <= datetime.fromisoformat(r["start"]) < UNTIL
    )


def _read(body: bytes) -> dict[str, list[tuple[str, datetime, datetime]]]:
    seen = read_with_every_reader(body, start=FROM, end=UNTIL)
    return {reader: sorted((i.uid, i.start, i.end) for i in seen[reader]) for reader in READERS}


async def test_every_reader_shows_sessions_at_ambiguous_wall_times_where_the_service_holds_them(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(NOW, tick=False):
        weekly = await create_series(
            client,
            auth,
            title="Night rounds",
            timezone="Europe/Paris",
            start="2027-03-21T02:30:00",
            rrule="FREQ=WEEKLY;BYDAY=SU;COUNT=34",
            duration_minutes=60,
        )
        rows = await occurrences(client, auth, weekly["id"])
        # a session moved to 02:15 on the night clocks go back, into the repeated hour
        moved = next(r for r in rows if r["start"].startswith("2027-10-17"))
        response = await client.patch(
            f"/api/occurrences/{moved['id']}",
            json={"start": "2027-10-31T01:15:00Z"},  # 02:15 CET, the second pass
            headers=auth,
        )
        assert response.status == 200, await response.text()
        # the same series again, its session in the hour that does not exist cancelled
        cancelling = await create_series(
            client,
            auth,
            title="Night rounds, cancelled",
            timezone="Europe/Paris",
            start="2027-03-21T02:30:00",
            rrule="FREQ=WEEKLY;BYDAY=SU;COUNT=34",
            duration_minutes=60,
        )
        skipped = next(
            r
            for r in await occurrences(client, auth, cancelling["id"])
            if r["start"].startswith("2027-03-28")
        )
        response = await client.patch(
            f"/api/occurrences/{skipped['id']}", json={"status": "cancelled"}, headers=auth
        )
        assert response.status == 200, await response.text()
        single = await create_series(
            client,
            auth,
            title="One night",
            timezone="Europe/Paris",
            start="2027-03-28T02:30:00",  # does not exist: 03:30 summer time
            rrule=None,
            duration_minutes=45,
        )
        weekly, cancelling, single = [
            await (await client.get(f"/api/series/{s['id']}", headers=auth)).json()
            for s in (weekly, cancelling, single)
        ]
        held = [
            item
            for s in (weekly, cancelling, single)
            for item in _held(await occurrences(client, auth, s["id"]), s["uid"])
        ]
        feeds = {
            path: await (await client.get(path)).read()
            for path in (
                "/calendar.ics",
                *(f"/series/{s['slug']}.ics" for s in (weekly, cancelling, single)),
            )
        }

    utc = UTC
    kinds = {weekly["uid"]: "weekly", cancelling["uid"]: "cancelling", single["uid"]: "single"}
    assert {(kinds[uid], start, end) for uid, start, end in held} >= {
        # the skipped 02:30 is 03:30 summer time, for the whole duration
        (
            "weekly",
            datetime(2027, 3, 28, 1, 30, tzinfo=utc),
            datetime(2027, 3, 28, 2, 30, tzinfo=utc),
        ),
        (
            "single",
            datetime(2027, 3, 28, 1, 30, tzinfo=utc),
            datetime(2027, 3, 28, 2, 15, tzinfo=utc),
        ),
        # the repeated 02:30 is the first one, summer time
        (
            "weekly",
            datetime(2027, 10, 31, 0, 30, tzinfo=utc),
            datetime(2027, 10, 31, 1, 30, tzinfo=utc),
        ),
        # the session moved into the second pass of the repeated hour
        (
            "weekly",
            datetime(2027, 10, 31, 1, 15, tzinfo=utc),
            datetime(2027, 10, 31, 2, 15, tzinfo=utc),
        ),
    }
    assert not any(
        kinds[uid] == "cancelling" and start.date().isoformat() == "2027-03-28"
        for uid, start, _ in held
    )
    for path, body in feeds.items():
        wanted = sorted(
            item for item in held if path == "/calendar.ics" or item[0] in body.decode()
        )
        for reader, seen in _read(body).items():
            assert sorted(set(seen) ^ set(wanted)) == [], (
                reader,
                path,
                [(kinds[u], a) for u, a, _ in sorted(set(seen) - set(wanted))],
                [(kinds[u], a) for u, a, _ in sorted(set(wanted) - set(seen))],
            )


async def test_a_session_file_at_an_ambiguous_time_names_its_exact_start(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(NOW, tick=False):
        series = await create_series(
            client,
            auth,
            timezone="America/New_York",
            start="2027-11-07T01:30:00",  # 01:30 happens twice: EDT, then EST
            rrule=None,
            language="en",
        )
        (row,) = await occurrences(client, auth, series["id"])
        body = await (await client.get(f"/occurrences/{row['id']}.ics")).read()

    (event,) = Calendar.from_ical(body).walk("VEVENT")
    assert row["start"] == "2027-11-07T05:30:00Z"  # the first 01:30 (EDT), as RFC 5545 says
    assert event.decoded("DTSTART") == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    assert b"DTSTART:20271107T053000Z" in body


def test_ambiguous_is_true_only_in_the_repeated_and_the_skipped_hours() -> None:
    paris = [
        datetime(2027, 3, 28, 1, 59, tzinfo=PARIS),
        datetime(2027, 3, 28, 2, 0, tzinfo=PARIS),
        datetime(2027, 3, 28, 2, 59, tzinfo=PARIS),
        datetime(2027, 3, 28, 3, 0, tzinfo=PARIS),
        datetime(2027, 10, 31, 1, 59, tzinfo=PARIS),
        datetime(2027, 10, 31, 2, 0, tzinfo=PARIS),
        datetime(2027, 10, 31, 2, 59, tzinfo=PARIS, fold=1),
        datetime(2027, 10, 31, 3, 0, tzinfo=PARIS),
    ]

    assert [ambiguous(moment) for moment in paris] == [
        False,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    assert not ambiguous(datetime(2027, 3, 28, 2, 30, tzinfo=ZoneInfo("Asia/Tokyo")))
