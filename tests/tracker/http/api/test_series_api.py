"""Organisers create, list, read and edit series; every refusal is a precise 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_series, occurrences, series_body


async def test_create_series_answers_201_with_id_slug_and_location(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = await client.post("/api/series", json=series_body(), headers=auth)

    assert response.status == 201
    body = await response.json()
    assert body["slug"] == "les-lundis-de-la-sante-numerique"
    assert body["feed_url"] == "https://cme.example.org/series/les-lundis-de-la-sante-numerique.ics"
    assert response.headers["Location"] == f"/api/series/{body['id']}"


async def test_read_series_gives_back_what_was_sent(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, min_attendance_percent=50, reminders=["PT2H"])

    response = await client.get(f"/api/series/{created['id']}", headers=auth)

    body = await response.json()
    sent = series_body(min_attendance_percent=50, reminders=["PT2H"])
    assert {key: body[key] for key in sent} == sent | {"min_attendance_percent": 50.0}
    assert body["sequence"] == 0
    assert body["created_at"].endswith("Z")


async def test_same_title_twice_gets_distinct_slugs(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = await create_series(client, auth)
    second = await create_series(client, auth)

    assert (first["slug"], second["slug"]) == (
        "les-lundis-de-la-sante-numerique",
        "les-lundis-de-la-sante-numerique-2",
    )


async def test_list_series_in_creation_order(client: TestClient, auth: dict[str, str]) -> None:
    first = await create_series(client, auth, title="Alpha")
    second = await create_series(client, auth, title="Beta")

    response = await client.get("/api/series", headers=auth)

    assert [row["id"] for row in (await response.json())["items"]] == [first["id"], second["id"]]


async def test_single_session_without_rrule_has_one_occurrence(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, rrule=None)

    rows = await occurrences(client, auth, created["id"])

    assert [(row["start"], row["end"]) for row in rows] == [
        ("2027-03-01T11:30:00Z", "2027-03-01T12:30:00Z")
    ]


async def test_patch_title_raises_sequence_and_keeps_occurrence_ids(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    before = await occurrences(client, auth, created["id"])

    response = await client.patch(
        f"/api/series/{created['id']}", json={"title": "Mondays"}, headers=auth
    )

    body = await response.json()
    assert (response.status, body["title"], body["sequence"]) == (200, "Mondays", 1)
    assert body["slug"] == created["slug"]  # feed URLs never break
    assert await occurrences(client, auth, created["id"]) == before


async def test_patch_start_time_moves_every_occurrence_and_keeps_their_ids(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    before = await occurrences(client, auth, created["id"])

    await client.patch(
        f"/api/series/{created['id']}", json={"start": "2027-03-01T13:00:00"}, headers=auth
    )

    after = await occurrences(client, auth, created["id"])
    assert [row["id"] for row in after] == [row["id"] for row in before]
    assert [row["start"][11:16] for row in after] == ["12:00"] * 4 + ["11:00"] * 4  # 13:00 Paris
    assert {row["sequence"] for row in after} == {1}


async def test_patch_rule_keeps_ids_of_occurrences_that_still_exist(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    before = await occurrences(client, auth, created["id"])

    await client.patch(
        f"/api/series/{created['id']}", json={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4"}, headers=auth
    )

    after = await occurrences(client, auth, created["id"])
    assert after == before[:4]


async def test_patch_with_no_real_change_keeps_sequence(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(
        f"/api/series/{created['id']}", json={"title": series_body()["title"]}, headers=auth
    )

    assert (await response.json())["sequence"] == 0


async def test_patch_can_clear_the_rule_to_a_single_session(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(
        f"/api/series/{created['id']}", json={"rrule": None}, headers=auth
    )

    assert response.status == 200
    assert len(await occurrences(client, auth, created["id"])) == 1


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"rrule": "FREQ=HOURLY"}, "rrule", "FREQ=HOURLY is not allowed"),
        ({"rrule": "FREQ=MINUTELY;INTERVAL=30"}, "rrule", "FREQ=MINUTELY is not allowed"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule", "FREQ=SECONDLY is not allowed"),
        (
            {"rrule": "FREQ=DAILY;INTERVAL=0"},
            "rrule",
            "INTERVAL must be a single whole number of at least 1",
        ),
        (
            {"rrule": "FREQ=DAILY;BYHOUR=8,9,10,11,12,13,14,15,16"},
            "rrule",
            "at most one session per day",
        ),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule", "cannot parse"),
        ({"rrule": "FREQ=WEEKLY;X-NAME=1"}, "rrule", "unsupported part(s): X-NAME"),
        (
            {"rrule": "FREQ=WEEKLY;COUNT=2;UNTIL=20270401"},
            "rrule",
            "COUNT and UNTIL cannot both be given",
        ),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", "no occurrence"),
        ({"rrule": "FREQ=WEEKLY\r\nDTSTART:20270101T000000"}, "rrule", "single RRULE value"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown IANA timezone 'Mars/Olympus'"),
        ({"timezone": "../../etc/passwd"}, "timezone", "unknown IANA timezone"),
        ({"timezone": "Factory"}, "timezone", "unknown IANA timezone 'Factory'"),
        (  # the URL parser dropped the line break: the URL was stored silently changed
            {"join_url": "https://zoom.us/j/1\r\nX: y"},
            "join_url",
            "holds a line break or another control character",
        ),
        ({"join_url": "https://zoom.us/j/1\t2"}, "join_url", "control character"),
        ({"timezone": "localtime"}, "timezone", "unknown IANA timezone 'localtime'"),
        ({"start": "2027-03-01T12:30:00+01:00"}, "start", "without an offset"),
        ({"start": "next monday"}, "start", "valid datetime"),
        ({"duration_minutes": 0}, "duration_minutes", "greater than or equal to 5"),
        ({"join_url": "javascript:alert(1)"}, "join_url", "URL scheme should be 'http' or 'https'"),
        (
            {"credits": [{"type": "NOPE_CREDIT", "max": 1}]},
            "credits",
            "unknown credit type(s) NOPE_CREDIT",
        ),
        ({"credits": [{"type": "AMA_PRA_1", "max": 0.3}]}, "credits.0.max", "multiple of 0.25"),
        (
            {"credits": [{"type": "AMA_PRA_1", "max": 1}, {"type": "AMA_PRA_1", "max": 2}]},
            "credits",
            "once",
        ),
        ({"reminders": ["1 day"]}, "reminders.0", "not an ISO 8601 duration"),
        ({"language": "de"}, "language", "'fr' or 'en'"),
        ({"zoom_webinar_id": "abc"}, "zoom_webinar_id", "should match pattern"),
        ({"min_attendance_percent": 101}, "min_attendance_percent", "less than or equal to 100"),
        ({"title": ""}, "title", "at least 1 character"),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
        ({"description": "a\x00b"}, "description", "NUL characters are not accepted"),
        ({"credits": [{"type": "AMA\x00"}]}, "credits.0.type", "NUL characters are not accepted"),
    ],
)
async def test_create_series_refuses_bad_input_with_422(
    client: TestClient, auth: dict[str, str], override: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/api/series", json=series_body(**override), headers=auth)

    assert response.status == 422
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["errors"][0]["field"] == field
    assert message in body["errors"][0]["message"]


async def test_create_series_refuses_a_missing_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = series_body()
    del body["timezone"]

    response = await client.post("/api/series", json=body, headers=auth)

    assert response.status == 422
    assert (await response.json())["errors"] == [{"field": "timezone", "message": "Field required"}]


async def test_refused_create_stores_nothing(client: TestClient, auth: dict[str, str]) -> None:
    await client.post("/api/series", json=series_body(rrule="FREQ=HOURLY"), headers=auth)

    response = await client.get("/api/series", headers=auth)

    assert (await response.json())["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rrule": "FREQ=MINUTELY"}, "rrule"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"title": None}, "title"),
    ],
)
async def test_patch_refusal_leaves_the_series_untouched(
    client: TestClient, auth: dict[str, str], change: dict[str, Any], field: str
) -> None:
    created = await create_series(client, auth)

    response = await client.patch(f"/api/series/{created['id']}", json=change, headers=auth)

    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == field
    after = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()
    assert (after["rrule"], after["timezone"], after["sequence"]) == (
        "FREQ=WEEKLY;COUNT=8;BYDAY=MO",
        "Europe/Paris",
        0,
    )


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/series/999"), ("PATCH", "/api/series/999")]
)
async def test_unknown_series_is_404(
    client: TestClient, auth: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, json={"title": "x"}, headers=auth)

    assert response.status == 404
    assert (await response.json())["detail"] == "series 999 does not exist"


async def test_rrule_is_stored_in_canonical_form_with_until_in_utc(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, rrule="RRULE:freq=weekly;byday=mo;until=20270322")

    body = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    assert body["rrule"] == "FREQ=WEEKLY;UNTIL=20270322T225959Z;BYDAY=MO"
    assert len(await occurrences(client, auth, created["id"])) == 4
