"""/openapi.json is a valid OpenAPI 3.1 document that lists every route the app serves."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from tests.factories import create_series


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
    app: web.Application = client.app  # type: ignore[assignment]

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


async def test_api_routes_declare_bearer_security_and_problems(client: TestClient) -> None:
    document = await _document(client)

    for path, item in document["paths"].items():
        for operation in item.values():
            if path.startswith("/api/me"):
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
