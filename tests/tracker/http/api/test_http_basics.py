"""The HTTP shell: health, problem+json errors, size limit."""

from __future__ import annotations

import io

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_series
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine


async def test_healthz_answers_ok_when_the_database_answers(client: TestClient) -> None:
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_unknown_path_is_a_problem_document(client: TestClient) -> None:
    response = await client.get("/nowhere")

    assert response.status == 404
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert (body["status"], body["title"]) == (404, "Not Found")


async def test_wrong_method_is_405_with_allow(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.delete("/api/series", headers=auth)

    assert response.status == 405
    assert response.content_type == "application/problem+json"
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}


async def test_every_get_answers_head_alike_without_a_body(
    client: TestClient, auth: dict[str, str]
) -> None:
    """Calendar apps and link checkers ask HEAD first; HTTP wants it wherever GET is."""
    series = await create_series(client, auth)
    paths = ["/healthz", "/", "/calendar.ics", f"/series/{series['slug']}.ics", "/api/series"]

    for path in paths:
        got = await client.get(path, headers=auth)
        head = await client.head(path, headers=auth)

        assert (head.status, got.status) == (200, 200), path
        assert await head.read() == b"", path
        assert head.headers["Content-Type"] == got.headers["Content-Type"], path
        assert head.headers.get("ETag") == got.headers.get("ETag"), path
    refused = await client.head("/api/attendance-events", headers=auth)  # POST only
    assert refused.status == 405


async def test_body_that_is_not_json_is_400(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.post("/api/series", data=b"{not json", headers=auth)

    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert (await response.json())["detail"].startswith("the body is not valid JSON")


async def test_body_over_the_size_limit_is_413(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    response = await client.post(
        "/api/series", data=io.BytesIO(b"x" * (settings.max_request_bytes + 1)), headers=auth
    )

    assert response.status == 413
    assert response.content_type == "application/problem+json"


async def test_non_numeric_id_is_404_not_500(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/series/abc", headers=auth)

    assert response.status == 404
    assert response.content_type == "application/problem+json"
