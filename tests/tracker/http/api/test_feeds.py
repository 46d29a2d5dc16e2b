"""Public iCalendar feeds, read back the way calendar applications read them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.factories import create_series, occurrences

PARIS = ZoneInfo("Europe/Paris")


async def _feed(client: TestClient, path: str = "/calendar.ics") -> Calendar:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return Calendar.from_ical(await response.read())


def _expanded(calendar: Calendar) -> list[Any]:
    return list(recurring_ical_events.of(calendar).between(date(2027, 1, 1), date(2027, 12, 31)))


async def _cancel_and_move(
    client: TestClient, auth: dict[str, str], series_id: int
) -> list[dict[str, Any]]:
    rows = await occurrences(client, auth, series_id)
    await client.patch(
        f"/api/occurrences/{rows[2]['id']}", json={"status": "cancelled"}, headers=auth
    )
    await client.patch(
        f"/api/occurrences/{rows[5]['id']}", json={"start": "2027-04-06T18:00:00"}, headers=auth
    )
    return rows


async def test_feed_expands_across_dst_with_cancelled_absent_and_moved_at_new_time(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    await _cancel_and_move(client, auth, created["id"])

    events = _expanded(await _feed(client))

    starts = [event.start.astimezone(PARIS) for event in events]
    assert [start.strftime("%a %d %b %H:%M") for start in starts] == [
        "Mon 01 Mar 12:30",
        "Mon 08 Mar 12:30",
        "Mon 22 Mar 12:30",
        "Mon 29 Mar 12:30",
        "Tue 06 Apr 18:00",
        "Mon 12 Apr 12:30",
        "Mon 19 Apr 12:30",
    ]
    assert {start.utcoffset() for start in starts} == {timedelta(hours=1), timedelta(hours=2)}
    assert {str(event["SUMMARY"]) for event in events} == {"Les lundis de la santé numérique"}


async def test_master_event_holds_rule_local_start_and_exdate(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    await _cancel_and_move(client, auth, created["id"])

    body = (await (await client.get(f"/series/{created['slug']}.ics")).read()).decode()

    assert "DTSTART;TZID=Europe/Paris:20270301T123000" in body
    assert "RRULE:FREQ=WEEKLY;COUNT=8;BYDAY=MO" in body
    assert "EXDATE;TZID=Europe/Paris:20270315T123000" in body
    assert "RECURRENCE-ID;TZID=Europe/Paris:20270405T123000" in body
    assert "DTSTART;TZID=Europe/Paris:20270406T180000" in body


async def test_feed_headers_and_calendar_properties(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_series(client, auth)

    response = await client.get("/calendar.ics")
    calendar = Calendar.from_ical(await response.read())

    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert str(calendar["PRODID"]) == "-//CME Webinar Tracker//Feeds 1.0//EN"
    assert (
        str(calendar["NAME"])
        == str(calendar["X-WR-CALNAME"])
        == "Institut du Numérique en Santé webinars"
    )
    assert calendar["REFRESH-INTERVAL"].to_ical() == b"PT1H"
    assert calendar["X-PUBLISHED-TTL"].to_ical() == b"PT1H"


async def test_event_carries_join_url_conference_and_designation(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_series(client, auth)

    event = (await _feed(client)).walk("VEVENT")[0]

    assert str(event["URL"]) == "https://zoom.us/j/81234567890"
    assert event["CONFERENCE"] == "https://zoom.us/j/81234567890"
    assert "Rejoindre: https://zoom.us/j/81234567890" in str(event["DESCRIPTION"])
    assert (
        "Institut du Numérique en Santé designates this live activity for a maximum of 1.0 "
        "AMA PRA Category 1 Credit(s)™" in str(event["DESCRIPTION"])
    )


async def test_vtimezone_is_limited_to_the_feed_range(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_series(client, auth)

    calendar = await _feed(client)

    (timezone,) = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "Europe/Paris"
    transitions = [
        component["DTSTART"].dt for component in timezone.walk() if "DTSTART" in component
    ]
    assert min(transitions).year >= 2027 - 1
    assert max(transitions).year <= 2029


async def test_two_fetches_give_identical_bytes(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_series(client, auth)
    await _cancel_and_move(client, auth, created["id"])

    first = await client.get("/calendar.ics")
    second = await client.get("/calendar.ics")

    assert await first.read() == await second.read()
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Last-Modified"] == second.headers["Last-Modified"]


async def test_if_none_match_gives_304(client: TestClient, auth: dict[str, str]) -> None:
    await create_series(client, auth)
    first = await client.get("/calendar.ics")

    again = await client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})

    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("{etag}", 304),  # as it was given: compared as it stands
        ("W/{etag}", 304),  # weak comparison (RFC 9110 13.1.2)
        ('"other", {etag}', 304),  # one of a list
        ("*", 304),
        ('"other"', 200),
        ('{etag}"', 200),  # not the same tag
    ],
)
async def test_if_none_match_is_compared_as_rfc_9110_says(
    client: TestClient, auth: dict[str, str], sent: str, status: int
) -> None:
    await create_series(client, auth)
    etag = (await client.get("/calendar.ics")).headers["ETag"]

    again = await client.get("/calendar.ics", headers={"If-None-Match": sent.format(etag=etag)})

    assert again.status == status
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"


async def test_if_modified_since_gives_304(client: TestClient, auth: dict[str, str]) -> None:
    await create_series(client, auth)
    first = await client.get("/calendar.ics")

    again = await client.get(
        "/calendar.ics", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )

    assert again.status == 304


async def test_change_gives_new_etag_and_later_last_modified(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    first = await client.get("/calendar.ics")

    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=5)):
        await client.patch(f"/api/series/{created['id']}", json={"title": "Mondays"}, headers=auth)
        again = await client.get("/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})

    assert again.status == 200
    assert again.headers["ETag"] != first.headers["ETag"]
    assert parsedate_to_datetime(again.headers["Last-Modified"]) > parsedate_to_datetime(
        first.headers["Last-Modified"]
    )


async def test_last_modified_never_goes_back_when_a_series_leaves_the_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    older = await create_series(client, auth, title="Older")
    with time_machine.travel(datetime.now().astimezone() + timedelta(hours=1)):
        newer = await create_series(client, auth, title="Newer")
        first = await client.get("/calendar.ics")
        await client.patch(f"/api/series/{newer['id']}", json={"public": False}, headers=auth)

    again = await client.get("/calendar.ics")

    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(await again.read()).walk("VEVENT")] == [
        "Older"
    ]
    assert parsedate_to_datetime(again.headers["Last-Modified"]) > parsedate_to_datetime(
        first.headers["Last-Modified"]
    )
    stale = await client.get(
        "/calendar.ics",
        headers={
            "If-Modified-Since": format_datetime(
                parsedate_to_datetime(first.headers["Last-Modified"]), usegmt=True
            )
        },
    )
    assert stale.status == 200
    assert older["id"] != newer["id"]


async def test_uid_is_stable_and_sequence_rises_with_each_change(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    master_before = (await _feed(client)).walk("VEVENT")[0]

    await client.patch(
        f"/api/series/{created['id']}", json={"description": "Nouveau"}, headers=auth
    )
    await _cancel_and_move(client, auth, created["id"])

    events = (await _feed(client)).walk("VEVENT")
    assert {str(event["UID"]) for event in events} == {str(master_before["UID"])}
    assert (master_before["SEQUENCE"], events[0]["SEQUENCE"], events[1]["SEQUENCE"]) == (0, 3, 3)


async def test_title_with_line_breaks_and_separators_round_trips(
    client: TestClient, auth: dict[str, str]
) -> None:
    title = "Séance\r\nspéciale; IA, santé\rfin\x07\x1b"
    await create_series(client, auth, title=title, description="a\r\nb;c,d\\e")

    response = await client.get("/calendar.ics")
    raw = await response.read()
    event = Calendar.from_ical(raw).walk("VEVENT")[0]

    assert str(event["SUMMARY"]) == "Séance\nspéciale; IA, santé\nfin"
    assert str(event["DESCRIPTION"]).startswith("a\nb;c,d\\e\n\n")
    assert b"\x07" not in raw and b"\x1b" not in raw
    assert all(line.endswith(b"\r") or not line for line in raw.split(b"\n"))


async def test_single_session_is_one_event_without_rule(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, rrule=None)
    (row,) = await occurrences(client, auth, created["id"])
    await client.patch(
        f"/api/occurrences/{row['id']}", json={"start": "2027-03-02T09:00:00"}, headers=auth
    )

    (event,) = (await _feed(client)).walk("VEVENT")

    assert "RRULE" not in event
    assert event.start == datetime(2027, 3, 2, 9, 0, tzinfo=PARIS)  # type: ignore[attr-defined]  # walk() types Events as Component


async def test_cancelled_single_session_is_a_cancelled_event(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, rrule=None)
    (row,) = await occurrences(client, auth, created["id"])
    await client.patch(f"/api/occurrences/{row['id']}", json={"status": "cancelled"}, headers=auth)

    (event,) = (await _feed(client)).walk("VEVENT")

    assert str(event["STATUS"]) == "CANCELLED"


async def test_private_series_is_absent_from_public_feeds(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, public=False)

    calendar = await _feed(client)
    response = await client.get(f"/series/{created['slug']}.ics")

    assert calendar.walk("VEVENT") == []
    assert response.status == 404


async def test_unknown_slug_is_404(client: TestClient) -> None:
    response = await client.get("/series/nothing-here.ics")

    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_series_feed_names_the_calendar_after_the_series(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    calendar = await _feed(client, f"/series/{created['slug']}.ics")

    assert str(calendar["X-WR-CALNAME"]) == "Les lundis de la santé numérique"
