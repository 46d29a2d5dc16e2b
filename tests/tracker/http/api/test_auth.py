"""Every /api route needs a token (organiser, or physician for /api/me), except the public
self-registration request; feeds and health do not."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tracker.http.routes import ROUTES

pytestmark = pytest.mark.any_engine

API_ROUTES = [
    (route.method, re.sub(r"\{\w+\}", "1", route.path))
    for route in ROUTES
    if route.path.startswith("/api")
    and route.auth != "none"  # public: sign-in links, self-registration
]


def test_the_only_public_api_routes_ask_for_an_email_link() -> None:
    """A self-registration request and a sign-in link request: each only sends an email."""
    public = [(r.method, r.path) for r in ROUTES if r.path.startswith("/api") and r.auth == "none"]

    assert sorted(public) == [
        ("POST", "/api/series/{id}/self-registrations"),
        ("POST", "/api/sign-in-links"),
    ]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_api_route_without_token_is_401(client: TestClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={})

    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_api_route_with_unknown_token_is_401(
    client: TestClient, method: str, path: str
) -> None:
    response = await client.request(
        method, path, json={}, headers={"Authorization": "Bearer org_forged"}
    )

    assert response.status == 401
    assert (await response.json())["detail"] in (
        "unknown or revoked organiser token",
        "unknown or revoked physician token",
    )


@pytest.mark.parametrize(
    "header", ["Basic b3JnOnB3", "Bearer", "Bearer    ", "org_token-without-scheme"]
)
async def test_malformed_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = await client.get("/api/series", headers={"Authorization": header})

    assert response.status == 401


async def test_valid_token_opens_the_api(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/series", headers=auth)

    assert response.status == 200


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/calendar.ics"])
async def test_public_routes_need_no_token(client: TestClient, path: str) -> None:
    response = await client.get(path)

    assert response.status == 200
