"""/openapi.json is a valid OpenAPI 3.1 document that lists every route the app serves."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.factories import create_physician, create_series, occurrences
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tracker.db import Database

pytestmark = pytest.mark.any_engine


async def _document(client: TestClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    return document


async def test_document_is_valid_openapi_3_1(client: TestClient) -> None:
    document = await _document(client)

    validate(document)
    assert document["openapi"] == "3.1.0"


async def test_document_lists_exactly_the_served_routes(client: TestClient) -> None:
    document = await _document(client)
    app: web.Application = client.app

    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == served
    assert {path for _, path in served if path.startswith("/api")} >= {
        "/api/series",
        "/api/series/{id}",
        "/api/series/{id}/occurrences",
        "/api/occurrences/{id}",
    }


#: API operations anyone may call: said so (``security: []``), and rate-limited per client.
PUBLIC_API = {("post", "/api/sign-in-links"), ("post", "/api/series/{id}/self-registrations")}


async def test_api_routes_declare_bearer_security_and_problems(client: TestClient) -> None:
    document = await _document(client)

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method, path) in PUBLIC_API:
                assert operation["security"] == []
                assert "429" in operation["responses"]
            elif path.startswith("/api/me"):
                assert operation["security"] == [{"physicianToken": []}]
            elif path.startswith("/api"):
                assert operation["security"] == [{"organizerToken": []}]
                assert "401" in operation["responses"]


async def test_series_schema_matches_a_real_response(
    client: TestClient, auth: dict[str, str]
) -> None:
    document = await _document(client)
    created = await create_series(client, auth)

    body = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    schema = document["components"]["schemas"]["SeriesPublic"]
    assert set(body) == set(schema["properties"])
    assert set(schema["required"]) <= set(body)


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


async def test_series_start_is_documented_as_the_local_time_it_is(
    client: TestClient, auth: dict[str, str]
) -> None:
    """``start`` is a wall-clock time without offset, which JSON Schema's date-time is not."""
    document = await _document(client)
    created = await create_series(client, auth)
    body = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()
    schema = {"$ref": "#/components/schemas/SeriesPublic", "components": document["components"]}

    errors = [
        error.message
        for error in Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(body)
    ]

    assert body["start"] == "2027-03-01T12:30:00"
    assert errors == []


#: (method, path, how to get there, status the code answers): each must be in the document.
async def test_every_status_the_code_answers_is_documented(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    document = await _document(client)
    series = await create_series(client, auth)
    physician = await create_physician(client, auth)
    first = (await occurrences(client, auth, series["id"]))[0]
    cookie = await organiser_cookie(database)
    registration = {"physician_id": physician["id"]}
    await client.post(f"/api/series/{series['id']}/registrations", json=registration, headers=auth)
    await client.patch(
        f"/api/occurrences/{first['id']}", json={"status": "cancelled"}, headers=auth
    )
    calls = [
        (
            "POST",
            "/api/series/{id}/registrations",
            f"/api/series/{series['id']}/registrations",
            {"json": registration, "headers": auth},
            200,
        ),
        (
            "PATCH",
            "/api/occurrences/{id}",
            f"/api/occurrences/{first['id']}",
            {"json": {"start": "2027-03-02T12:30:00"}, "headers": auth},
            409,
        ),
        (
            "GET",
            "/api/series/{id}/occurrences",
            f"/api/series/{series['id']}/occurrences?from=x",
            {"headers": auth},
            400,
        ),
        (
            "GET",
            "/api/exports/completions.csv",
            "/api/exports/completions.csv?to=2027",
            {"headers": auth},
            400,
        ),
        ("GET", "/api/outbox", "/api/outbox?status=lost", {"headers": auth}, 400),
        ("POST", "/organizer/login", "/organizer/login", {"data": {"token": "nope"}}, 403),
        ("GET", "/organizer", "/organizer", {}, 303),
        ("GET", "/me", "/me", {}, 401),
        ("GET", "/me/{token}", "/me/phy_unknown", {}, 404),
        (
            "POST",
            "/organizer/occurrences/{id}",
            f"/organizer/occurrences/{first['id']}",
            {"data": {"action": "cancel"}, "headers": cookie},
            403,
        ),
        ("GET", "/organizer/series/{id}", "/organizer/series/999", {"headers": cookie}, 404),
    ]

    answers = []
    for method, template, url, kwargs, _ in calls:
        response = await client.request(method, url, allow_redirects=False, **kwargs)  # type: ignore[arg-type]  # a table of per-request options
        answers.append(
            (
                method,
                template,
                response.status,
                str(response.status) in _operation(document, method, template)["responses"],
            )
        )

    assert answers == [(m, t, status, True) for m, t, _, _, status in calls]


async def test_media_types_are_the_ones_served(client: TestClient, database: Database) -> None:
    document = await _document(client)
    cookie = await organiser_cookie(database)

    static = await client.get("/static/preview.js")
    preview = await client.get(
        "/organizer/preview?timezone=Europe/Paris&start=2027-03-01T12:30", headers=cookie
    )

    assert list(_operation(document, "GET", "/static/{name}")["responses"]["200"]["content"]) == [
        static.content_type
    ]
    assert list(
        _operation(document, "GET", "/organizer/preview")["responses"]["200"]["content"]
    ) == [preview.content_type]


async def test_unreachable_database_is_documented_on_every_route_that_reads_it(
    client: TestClient,
) -> None:
    document = await _document(client)

    without = sorted(
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "503" not in operation["responses"]
    )

    assert without == [
        "GET /openapi.json",
        "GET /organizer/login",
        "GET /sign-in",
        "GET /signed-out",
        "GET /static/{name}",
        # the answer comes before the lookup (the address must not show in it)
        "POST /api/sign-in-links",
        "POST /sign-in",
    ]
