"""Schedules the service refuses at the edge: absurd dates, sub-daily rules, impossible rules.

Dates must fall within ten years of now (before and after); a series has at most one session per
local day; a rule is validated and expanded before anything is written, so a slow rule never
holds the database's write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

import schedules.recurrence
from tests.factories import create_series, occurrences, series_body
from tests.tracker.security_world import organizer_session
from tracker.settings import Settings


async def _problem(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    return body


def _in_years(years: int) -> str:
    moment = datetime.now(UTC) + timedelta(days=round(365.25 * years))
    return moment.strftime("%Y-%m-%dT12:30:00")


@pytest.mark.parametrize(
    "start",
    [
        "0001-01-01T12:30:00",
        "1900-01-01T12:30:00",
        _in_years(-11),
        _in_years(11),
        "9999-12-31T23:59:00",
    ],
)
async def test_create_series_refuses_a_start_outside_ten_years_of_now(
    client: TestClient, auth: dict[str, str], start: str
) -> None:
    response = await client.post("/api/series", json=series_body(start=start), headers=auth)

    body = await _problem(response)
    assert body["errors"][0]["field"] == "start"
    assert "within 10 years of now" in body["errors"][0]["message"]
    assert (await (await client.get("/api/series", headers=auth)).json())["items"] == []


@pytest.mark.parametrize("start", [_in_years(-9), _in_years(9)])
async def test_create_series_accepts_a_start_within_ten_years(
    client: TestClient, auth: dict[str, str], start: str
) -> None:
    created = await create_series(client, auth, start=start, rrule="FREQ=WEEKLY;COUNT=3")

    assert len(await occurrences(client, auth, created["id"])) == 3


async def test_patch_series_refuses_a_start_in_year_one(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(
        f"/api/series/{created['id']}", json={"start": "0001-01-01T00:00:00"}, headers=auth
    )

    body = await _problem(response)
    assert body["errors"][0]["field"] == "start"
    after = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()
    assert (after["start"], after["sequence"]) == ("2027-03-01T12:30:00", 0)


@pytest.mark.parametrize(
    "start",
    [
        "9999-12-31T23:59",
        "9999-12-31T23:59:00-05:00",
        "0001-01-01T00:00:00+14:00",
        _in_years(11),
        _in_years(-11) + "Z",
    ],
)
async def test_moving_an_occurrence_outside_ten_years_of_now_is_422(
    client: TestClient, auth: dict[str, str], start: str
) -> None:
    created = await create_series(client, auth)
    row = (await occurrences(client, auth, created["id"]))[3]

    response = await client.patch(
        f"/api/occurrences/{row['id']}", json={"start": start}, headers=auth
    )

    body = await _problem(response)
    assert body["errors"][0]["field"] == "start"
    assert "within 10 years of now" in body["errors"][0]["message"]
    assert (await occurrences(client, auth, created["id"]))[3] == row
    assert (await client.get("/calendar.ics")).status == 200


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;UNTIL=99991231T235959Z",
        "FREQ=WEEKLY;UNTIL=99991231",
        "FREQ=WEEKLY;UNTIL=99991231T235959",
        "FREQ=WEEKLY;UNTIL=00010101T000000",
        "FREQ=WEEKLY;UNTIL=00010101",
    ],
)
@pytest.mark.parametrize("timezone", ["Europe/Paris", "America/New_York", "Pacific/Kiritimati"])
async def test_an_until_far_outside_ten_years_is_422(
    client: TestClient, auth: dict[str, str], rule: str, timezone: str
) -> None:
    response = await client.post(
        "/api/series", json=series_body(rrule=rule, timezone=timezone), headers=auth
    )

    body = await _problem(response)
    assert body["errors"][0]["field"] == "rrule"


async def test_patch_with_an_until_in_year_9999_is_422_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(
        f"/api/series/{created['id']}",
        json={"rrule": "FREQ=WEEKLY;UNTIL=99991231T235959Z"},
        headers=auth,
    )

    body = await _problem(response)
    assert "UNTIL" in body["errors"][0]["message"]
    assert len(await occurrences(client, auth, created["id"])) == 8


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR="
        + ",".join(map(str, range(24)))
        + ";BYMINUTE="
        + ",".join(map(str, range(60)))
        + ";COUNT=1000",
        "FREQ=DAILY;BYHOUR=9,14;COUNT=10",
        "FREQ=WEEKLY;BYDAY=MO;BYMINUTE=0,30;COUNT=10",
        "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9,10,11;BYSETPOS=1,2;COUNT=4",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=MO;BYHOUR=8,20",
    ],
)
async def test_a_rule_with_several_sessions_a_day_is_422(
    client: TestClient, auth: dict[str, str], rule: str
) -> None:
    response = await client.post("/api/series", json=series_body(rrule=rule), headers=auth)

    body = await _problem(response)
    assert body["errors"][0]["field"] == "rrule"
    assert "one session per day" in body["errors"][0]["message"]
    assert (await (await client.get("/api/series", headers=auth)).json())["items"] == []


async def test_patching_in_a_sub_daily_rule_is_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(
        f"/api/series/{created['id']}", json={"rrule": "FREQ=DAILY;BYHOUR=9,18"}, headers=auth
    )

    body = await _problem(response)
    assert "one session per day" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "rule",
    ["FREQ=DAILY;BYHOUR=12;BYMINUTE=30;COUNT=5", "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6"],
)
async def test_one_session_on_each_of_several_days_is_accepted(
    client: TestClient, auth: dict[str, str], rule: str
) -> None:
    created = await create_series(client, auth, rrule=rule)

    rows = await occurrences(client, auth, created["id"])
    assert len({row["start"][:10] for row in rows}) == len(rows) > 1


async def test_a_daily_rule_from_years_ago_with_more_than_1000_sessions_is_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = await client.post(
        "/api/series", json=series_body(rrule="FREQ=DAILY", start=_in_years(-3)), headers=auth
    )

    body = await _problem(response)
    assert "more than 1000 occurrences" in body["errors"][0]["message"]


IMPOSSIBLE_RULES = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=31",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=1;BYMINUTE=2",
]


async def test_six_impossible_rules_at_once_are_refused_as_impossible_and_store_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    requests = [
        client.post(
            "/api/series",
            json=series_body(rrule=IMPOSSIBLE_RULES[n % len(IMPOSSIBLE_RULES)]),
            headers=auth,
        )
        for n in range(6)
    ]

    responses = await asyncio.gather(*requests)

    for response in responses:
        body = await _problem(response)
        assert body["errors"][0]["field"] == "rrule"
        assert "produces no occurrence" in body["errors"][0]["message"]
    assert (await (await client.get("/api/series", headers=auth)).json())["items"] == []


class _HeldExpansion:
    """Holds the rule expansion (in its worker thread) until the test has tried a write.

    This instruments the real expansion rather than replacing it: the original function runs
    once released, so the request completes as it would.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        original = schedules.recurrence._expand_local

        def held(*args: Any) -> list[datetime]:
            self.started.set()
            self.release.wait(timeout=30)
            return original(*args)

        monkeypatch.setattr(schedules.recurrence, "_expand_local", held)


def _sqlite_path(settings: Settings) -> str:
    return str(make_url(settings.database_url).database)


def _try_to_write(path: str) -> str:
    """Take SQLite's write lock without waiting: "ok", or SQLite's reason it could not."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return "ok"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        connection.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/series", series_body(rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")),
        ("PATCH", "/api/series/{id}", {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}),
        ("POST", "/api/series", series_body()),
        ("PATCH", "/api/series/{id}", {"rrule": "FREQ=WEEKLY;COUNT=4", "title": "Autre"}),
    ],
    ids=["create-impossible", "patch-impossible", "create-valid", "patch-valid"],
)
async def test_no_write_lock_is_held_while_a_rule_is_expanded(
    client: TestClient,
    auth: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    existing = await create_series(client, auth, title="Existante")
    held = _HeldExpansion(monkeypatch)
    request = asyncio.create_task(
        client.request(method, path.format(id=existing["id"]), json=body, headers=auth)
    )

    assert await asyncio.to_thread(held.started.wait, 30)
    write = await asyncio.to_thread(_try_to_write, _sqlite_path(settings))
    held.release.set()
    response = await request

    assert write == "ok"
    assert response.status in (200, 201, 422), await response.text()


async def _organiser_pages(client: TestClient, token: str) -> str:
    """Sign in on the pages as the organiser; returns the CSRF token of the page session."""
    cookie, csrf = await organizer_session(client, token)
    # The cookie is Secure (the test base URL is https), so it is handed over by hand.
    name, _, value = cookie.partition("=")
    client.session.cookie_jar.update_cookies({name: value})
    return csrf


def _series_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "title": "Les lundis",
        "description": "",
        "timezone": "Europe/Paris",
        "start": "2027-03-01T12:30",
        "duration_minutes": "60",
        "rrule": "FREQ=WEEKLY;COUNT=8;BYDAY=MO",
        "join_url": "https://zoom.us/j/81234567890",
        "credit_max": "1",
        "min_attendance_percent": "",
        "language": "fr",
        "zoom_webinar_id": "",
    }
    form.update(overrides)
    return form


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        # the page words the API's refusal for people, next to the field (issue 12)
        ("start", "9999-12-31T23:59", "within 10 years from now"),
        ("start", "0001-01-01T00:00", "within 10 years from now"),
        ("rrule", "FREQ=WEEKLY;UNTIL=99991231T235959Z", "ending within 10 years"),
        ("rrule", "FREQ=DAILY;BYHOUR=9,10", "one session a day at most"),
    ],
)
async def test_organiser_page_form_refuses_what_the_api_refuses(
    client: TestClient, organizer_token: str, field: str, value: str, message: str
) -> None:
    csrf = await _organiser_pages(client, organizer_token)

    response = await client.post(
        "/organizer/series", data=_series_form(csrf, **{field: value}), allow_redirects=False
    )

    assert response.status == 422
    assert response.content_type == "text/html"
    assert message in await response.text()


async def test_organiser_page_refuses_a_move_to_year_9999(
    client: TestClient, auth: dict[str, str], organizer_token: str
) -> None:
    created = await create_series(client, auth)
    row = (await occurrences(client, auth, created["id"]))[3]
    csrf = await _organiser_pages(client, organizer_token)

    response = await client.post(
        f"/organizer/occurrences/{row['id']}",
        data={"csrf": csrf, "action": "move", "start": "9999-12-31T23:59"},
        allow_redirects=False,
    )

    assert response.status == 422
    assert "within 10 years from now" in await response.text()
    assert (await occurrences(client, auth, created["id"]))[3] == row


@pytest.mark.parametrize("start", ["9999-12-31T23:59", "0001-01-01T00:00"])
async def test_organiser_preview_of_an_absurd_start_answers_a_message(
    client: TestClient, organizer_token: str, start: str
) -> None:
    await _organiser_pages(client, organizer_token)

    response = await client.get(
        "/organizer/preview",
        params={"timezone": "Europe/Paris", "start": start, "rrule": "FREQ=WEEKLY"},
    )

    assert response.status == 200
    (line,) = (await response.json())["lines"]
    assert "10 years" in line
