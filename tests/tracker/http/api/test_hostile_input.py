"""Hostile and absurd input: every request gets a clear 4xx problem, every CLI a one-line error.

One parametrised table per family: ids in paths and bodies, JSON nesting, times in queries and
bodies, signed Zoom events that are malformed, CSV fields beyond the csv module's limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner, Result
from pydantic import SecretStr

from tests.factories import (
    bearer,
    create_physician,
    create_series,
    every_item,
    occurrences,
    physician_body,
    series_body,
)
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.cli import cli
from tracker.http.routes import ROUTES
from tracker.settings import Settings

SECRET = "zoom-secret-token"
WEBINAR = "81234567890"
HUGE = "99999999999999999999999"


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert (response.status, response.content_type) == (status, "application/problem+json"), (
        await response.text()
    )
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    return body


async def _answer(response: Any) -> tuple[int, str]:
    """Status and media type of a response (read, so the connection is released)."""
    await response.read()
    return response.status, response.content_type


PROBLEM_404 = (404, "application/problem+json")

# Ids in paths --------------------------------------------------------------------------------

#: (method, path, who): every id in a path is one to ten ASCII digits naming a possible row.
PATH_IDS = [
    ("GET", "/api/series/%C2%B2", "organiser"),  # superscript two: isdigit() yes, int() no
    ("GET", "/api/series/%D9%A1", "organiser"),  # Arabic-Indic one: int() reads it as 1
    ("GET", "/api/series/%EF%BC%91", "organiser"),  # fullwidth one
    ("GET", f"/api/series/{HUGE}", "organiser"),
    ("GET", "/api/series/9223372036854775808", "organiser"),
    ("GET", "/api/series/2147483648", "organiser"),  # beyond PostgreSQL's INTEGER
    ("GET", "/api/series/0", "organiser"),
    ("GET", "/api/series/-1", "organiser"),
    ("GET", f"/api/series/{HUGE}/occurrences", "organiser"),
    ("GET", f"/api/occurrences/{HUGE}/attendance", "organiser"),
    ("GET", "/api/occurrences/2147483648/attendance", "organiser"),
    ("GET", f"/api/physicians/{HUGE}", "organiser"),
    ("GET", "/api/physicians/2147483648/credits", "organiser"),
    ("PATCH", "/api/series/%D9%A1", "organiser"),
    ("PATCH", f"/api/occurrences/{HUGE}", "organiser"),
    ("PATCH", "/api/physicians/2147483648", "organiser"),
    ("POST", f"/api/physicians/{HUGE}/token", "organiser"),
    ("DELETE", f"/api/physicians/1/requirements/{HUGE}", "organiser"),
    ("POST", f"/api/outbox/{HUGE}/retry", "organiser"),
    ("DELETE", f"/api/series/1/registrations/{HUGE}", "organiser"),
    ("GET", f"/api/me/awards/{HUGE}", "physician"),
    ("GET", "/api/me/awards/%D9%A1", "physician"),
    ("GET", "/api/me/certificates/%D9%A1.pdf", "physician"),
    ("GET", "/api/me/certificates/2147483648.pdf", "physician"),
]


async def test_path_id_that_is_not_an_ascii_id_in_range_is_404(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_series(client, auth)  # series 1 exists: "%D9%A1" must not find it
    physician = await create_physician(client, auth)
    headers = {"organiser": auth, "physician": bearer(physician["token"])}

    answers = {
        (method, path): await _answer(
            await client.request(method, path, json={}, headers=headers[who])
        )
        for method, path, who in PATH_IDS
    }

    assert answers == {(method, path): PROBLEM_404 for method, path, _ in PATH_IDS}


# Ids in bodies -------------------------------------------------------------------------------


def _event(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": "e1",
        "occurrence_id": 1,
        "physician_id": 1,
        "kind": "join",
        "at": "2026-03-02T11:30:00Z",
    }
    return event | overrides


#: (path, body, the field the 422 names)
BODY_IDS = [
    ("/api/series/1/registrations", {"physician_id": 2**64}, "physician_id"),
    ("/api/series/1/registrations", {"physician_id": 2**31}, "physician_id"),
    ("/api/series/1/registrations", {"physician_id": 0}, "physician_id"),
    ("/api/attendance-events", [_event(occurrence_id=2**64)], "0.occurrence_id"),
    ("/api/attendance-events", [_event(occurrence_id=2**31)], "0.occurrence_id"),
    ("/api/attendance-events", [_event(physician_id=int(HUGE))], "0.physician_id"),
    ("/api/attendance-events", [_event(physician_id=2**63)], "0.physician_id"),
]


async def test_body_id_beyond_the_id_range_is_422(client: TestClient, auth: dict[str, str]) -> None:
    await create_series(client, auth)

    answers = []
    for path, body, _ in BODY_IDS:
        response = await client.post(path, json=body, headers=auth)
        problem = await response.json()
        answers.append((response.status, [error["field"] for error in problem.get("errors", [])]))

    assert answers == [(422, [field]) for _, _, field in BODY_IDS]


# JSON nesting --------------------------------------------------------------------------------

JSON_BODY_ROUTES = sorted(
    {(route.method, route.path.replace("{id}", "1")) for route in ROUTES if route.body is not None}
)
DEEP_BODIES = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 33 + b"]" * 33]


async def test_deeply_nested_json_body_is_400_on_every_json_route(
    client: TestClient, auth: dict[str, str]
) -> None:
    answers = {}
    for method, path in JSON_BODY_ROUTES:
        for depth, body in enumerate(DEEP_BODIES):
            response = await client.request(method, path, data=body, headers=auth)
            problem = await response.json()
            answers[(method, path, depth)] = (response.status, "nests" in problem["detail"])

    assert answers == {key: (400, True) for key in answers}
    assert len(answers) == len(JSON_BODY_ROUTES) * len(DEEP_BODIES) >= 3 * 8


async def test_json_nested_within_the_limit_is_judged_by_the_schema(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = json.dumps({"title": [[[["deep"]]]]}).encode()

    response = await client.post("/api/series", data=body, headers=auth)

    await _problem(response, 422)


# Times in queries and bodies -----------------------------------------------------------------

EXTREME_TIMES = [
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
]
QUERY_TIMES = [
    (path, name, value, status)
    for path in ("/api/exports/completions.csv", "/api/series/1/occurrences")
    for name in ("from", "to")
    for value, status in [
        *((value, 400) for value in EXTREME_TIMES),
        ("0001-01-01T00:00:00Z", 200),
        ("9999-12-31T23:59:59Z", 200),
        ("2027-03-01T00:00:00+14:00", 200),
    ]
]


async def test_query_time_outside_what_utc_can_hold_is_400(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_series(client, auth)

    answers = [
        (
            path,
            name,
            value,
            (await _answer(await client.get(path, params={name: value}, headers=auth)))[0],
        )
        for path, name, value, _ in QUERY_TIMES
    ]

    assert answers == QUERY_TIMES


async def test_attendance_time_outside_what_utc_can_hold_is_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    answers = []
    for value in [*EXTREME_TIMES, "9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z"]:
        response = await client.post(
            "/api/attendance-events", json=[_event(at=value)], headers=auth
        )
        problem = await response.json()
        answers.append((response.status, [error["field"] for error in problem["errors"]]))

    assert answers == [(422, ["0.at"])] * 4


# Requests that do not say what the document says (found by schemathesis) ----------------------


async def test_requests_outside_the_document_are_4xx_never_500(
    client: TestClient, auth: dict[str, str], database: Any
) -> None:
    from tests.tracker.http.pages.test_organiser_pages import organiser_cookie

    created = await create_series(client, auth)
    cookie = await organiser_cookie(database)
    multipart = {"Content-Type": "multipart/form-data"}  # no boundary
    table = [
        ("POST", "/organizer/login", {"headers": multipart}, 400),
        ("POST", "/organizer/series", {"headers": cookie | multipart}, 400),
        ("POST", "/organizer/login", {"data": {"token": "a\x00b"}}, 422),
        ("GET", "/series/a%00b.ics", {}, 404),
        ("GET", "/unsubscribe/a%00b", {}, 404),
        ("GET", "/certificates/a%00b", {}, 404),
        ("GET", "/api/physicians?email=a%00b", {"headers": auth}, 400),
        ("GET", "/api/exports/completions.csv?to=0.5", {"headers": auth}, 400),
        ("GET", "/api/exports/completions.csv?from=2027-02-30", {"headers": auth}, 400),
        ("GET", "/api/exports/completions.csv?from=2027-03-01T00:00:00", {"headers": auth}, 400),
        ("POST", "/api/physicians", {"json": physician_body(consent_board_reporting=0)}, 422),
        ("POST", "/api/physicians", {"json": physician_body(birth_month="4")}, 422),
        ("POST", "/api/series", {"json": series_body(duration_minutes="60")}, 422),
        (
            "POST",
            "/api/series",
            {"json": series_body(credits=[{"type": "AMA_PRA_1", "max": 5e-324}])},
            422,
        ),
        ("PATCH", f"/api/series/{created['id']}", {"json": {"start": "2027-03-01T12:30:00Z"}}, 422),
    ]

    answers = []
    for method, path, kwargs, _ in table:
        kwargs.setdefault("headers", auth)
        response = await client.request(method, path, allow_redirects=False, **kwargs)  # type: ignore[arg-type]  # a table of per-request options
        await response.read()
        answers.append((method, path, response.status))

    assert answers == [(method, path, status) for method, path, _, status in table]


# Values that grow past their column once normalised ----------------------------------------

LONG_HOST = ".".join(["a" * 63] * 31 + ["a" * 8])  # 1,992 characters in labels of <= 63


async def test_join_url_longer_than_its_column_once_normalised_is_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    answers = []
    for url in (f"https://{LONG_HOST}", f"https://{LONG_HOST[:-1]}"):  # 2,000 and 1,999
        # Normalising adds a "/": 2,001 characters do not fit the 2,000 of the column.
        response = await client.post(
            "/api/series", json=series_body(join_url=url, rrule=None), headers=auth
        )
        answers.append(response.status)

    assert answers == [422, 201]


# Signed Zoom events that are malformed -------------------------------------------------------


@pytest.fixture
async def zoom_client(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient]:
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)}))
    yield await aiohttp_client(app)


async def _deliver(client: TestClient, payload: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    headers = {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": sign(SECRET, timestamp, body),
        "Content-Type": "application/json",
    }
    return await client.post("/webhooks/zoom", data=body, headers=headers)


def _joined(**participant: Any) -> dict[str, Any]:
    fields = {
        "user_name": "Jeanne",
        "email": "jeanne@example.org",
        "participant_uuid": "J1",
        "join_time": "2026-03-02T11:30:00Z",
    } | participant
    return {
        "event": "webinar.participant_joined",
        "event_ts": 1,
        "payload": {"object": {"id": WEBINAR, "uuid": "instance-1==", "participant": fields}},
    }


LONG_EMAIL = "j" * 64 + "@" + ".".join(["d" * 60] * 4) + ".org"  # 313 characters, a valid size


def _ended(event_ts: Any) -> dict[str, Any]:
    return {"event": "webinar.ended", "event_ts": event_ts, "payload": {"object": {"id": WEBINAR}}}


#: (case, signed payload, status): malformed is 400/422 (and logged), readable is stored.
ZOOM_EVENTS = [
    ("ended event_ts not a number", _ended("abc"), 422),
    ("ended event_ts beyond any date", _ended(10**30), 422),
    ("url_validation payload x", {"event": "endpoint.url_validation", "payload": "x"}, 400),
    (
        "url_validation token 7",
        {"event": "endpoint.url_validation", "payload": {"plainToken": 7}},
        400,
    ),
    ("joined payload x", {"event": "webinar.participant_joined", "payload": "x"}, 422),
    ("nested 100,000 deep", b'{"event":' * 100_000, 400),
    ("not an object", b"[1, 2]", 400),
    ("join_time year 9999", _joined(join_time="9999-12-31T23:59:59Z"), 422),
    ("join_time year 1", _joined(join_time="0001-01-01T00:00:00Z"), 422),
    ("join_time a number", _joined(join_time=12), 422),
    ("email with NUL", _joined(email="jeanne\x00@example.org"), 422),
    ("email too long", _joined(email="j" * 400 + "@example.org"), 422),
    ("email not text", _joined(email={"a": 1}), 422),
    ("participant_uuid too long", _joined(participant_uuid="u" * 5000), 422),
    ("participant_uuid with NUL", _joined(participant_uuid="J\x001"), 422),
    ("webinar id too long", _joined() | {"payload": {"object": {"id": "9" * 40}}}, 422),
    ("user_name with NUL", _joined(user_name="x\x00", email=None, participant_uuid=None), 200),
    ("long email, no uuid", _joined(email=LONG_EMAIL, participant_uuid=None), 200),
    (
        "long instance uuid",
        _joined()
        | {
            "payload": {
                "object": {
                    "id": WEBINAR,
                    "uuid": "i" * 400,
                    "participant": {"participant_uuid": "J2", "join_time": "2026-03-02T11:30:00Z"},
                }
            }
        },
        200,
    ),
]


async def test_signed_but_malformed_zoom_event_is_4xx_never_500(
    zoom_client: TestClient, auth: dict[str, str]
) -> None:
    answers = []
    for case, payload, _ in ZOOM_EVENTS:
        response = await _deliver(zoom_client, payload)
        media = response.content_type
        await response.read()
        after = await _deliver(zoom_client, _joined(participant_uuid=f"after {case}"))
        answers.append((case, response.status, media, after.status))
    stored = await every_item(zoom_client, auth, "/api/attendance-events/unmatched")

    assert answers == [
        (case, status, "application/json" if status < 400 else "application/problem+json", 200)
        for case, _, status in ZOOM_EVENTS
    ]
    assert len(stored) == len(ZOOM_EVENTS) + sum(status < 400 for *_, status in ZOOM_EVENTS)


async def test_refused_zoom_event_is_logged_with_its_reason(
    zoom_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await _deliver(zoom_client, _joined(join_time="9999-12-31T23:59:59Z"))

    assert response.status == 422
    assert [r.getMessage() for r in caplog.records if r.name == "tracker.http.api.attendance"] == [
        "refused a signed Zoom event webinar.participant_joined: "
        "participant.join_time is outside 2000-01-01 to 2100-01-01"
    ]


# CSV fields beyond the csv module's limit and absurd CLI arguments ----------------------------

BIG_FIELD = "x" * 131_073


def invoke(args: list[str], database_url: str | None = None) -> Result:
    """The ``tracker`` command in this process (click's runner: the same code, no start-up cost)."""
    env = {"TRACKER_DATABASE_URL": database_url} if database_url else {}
    return CliRunner().invoke(cli, args, env=env)


def test_physician_import_refuses_a_row_with_a_huge_field_and_keeps_the_others(
    database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "physicians.csv"
    source.write_text(
        "first_name,last_name,email\n"
        "Jeanne,Durand,jeanne@example.org\n"
        f'Paul,"{BIG_FIELD}",paul@example.org\n'
        "Inès,Moreau,ines@example.org\n",
        encoding="utf-8",
    )

    result = invoke(["import-physicians", str(source)], database_url)

    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: a field is longer than 131,072 characters"
    ]
    assert result.stdout.strip().splitlines()[-1] == (
        "2 created, 0 updated, 0 unchanged, 1 bad row"
    )


def test_zoom_report_import_refuses_a_row_with_a_huge_field_and_keeps_the_others(
    database_url: str, tmp_path: Path
) -> None:
    assert invoke(["demo"], database_url).exit_code == 0
    report = tmp_path / "report.csv"
    report.write_text(
        "Name (Original Name),User Email,Join Time,Leave Time\n"
        "Jeanne,jeanne@example.org,2026-11-02 12:30:00,2026-11-02 13:30:00\n"
        f'"{BIG_FIELD}",paul@example.org,2026-11-02 12:30:00,2026-11-02 13:30:00\n'
        "Inès,ines@example.org,2026-11-02 12:30:00,2026-11-02 13:30:00\n",
        encoding="utf-8",
    )

    result = invoke(["import-zoom-report", str(report), "--series", "1"], database_url)

    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: a field is longer than 131,072 characters"
    ]
    assert result.stdout.strip().splitlines()[-1] == (
        "4 events recorded, 0 already known, 4 unmatched, 1 bad row"
    )


@pytest.mark.parametrize("series", [HUGE, "9223372036854775808", "2147483648", "0", "-5"])
def test_zoom_report_import_of_an_absurd_series_id_is_one_line(
    database_url: str, tmp_path: Path, series: str
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("User Email,Join Time\n")

    result = invoke(["import-zoom-report", str(report), "--series", series], database_url)

    assert (result.exit_code, result.stderr.strip()) == (
        1,
        f"Error: series {series} does not exist",
    )


async def test_occurrence_list_of_a_series_still_works_after_hostile_ids(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    await client.get(f"/api/series/{HUGE}", headers=auth)

    rows = await occurrences(client, auth, created["id"])

    assert len(rows) == 8
