"""Every organiser page carries the same menu, sign-out included: each page route the router
serves (walked from ``ROUTES``, so a new page is walked too) and each organiser page template.

The sign-out is a form posting the session's CSRF token: a page whose handler did not hand the
token to its template used to lose it silently (the evaluation results did)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.tracker.http.pages.test_organiser_pages import Forms
from tests.tracker.security_world import World, build_world
from tracker.db import Database
from tracker.http.pages import render
from tracker.http.routes import ROUTES

pytestmark = pytest.mark.any_engine

#: The organiser's pages for browsers (GET, HTML), the sign-in page aside.
PAGES = sorted(
    route.path
    for route in ROUTES
    if route.method == "GET"
    and route.path.startswith("/organizer")
    and route.path != "/organizer/login"
    and route.response == "text/html"
)
MENU = [
    "/organizer",
    "/organizer/physicians",
    "/organizer/import",
    "/organizer/unmatched",
    "/organizer/exports",
    "/organizer/outbox",
]
#: Templates of whole pages (they extend the layout) that are not an organiser's.
NOT_ORGANISER = {"org_login.html"}


def _menu(html: str) -> str:
    start = html.index('class="org-menu"')
    return html[start : html.index("</nav>", start)]


def _ids(world: World) -> dict[str, str]:
    """A path's placeholders, by the path's start: the series, its past session, the physician
    who attended it and her certificate."""
    return {
        "/organizer/series/{id}": str(world.series_id),
        "/organizer/occurrences/{id}": str(world.past_occurrence_id),
        "/organizer/physicians/{id}": str(world.jeanne.id),
        "{physician_id}": str(world.jeanne.id),
        "/organizer/certificates/{code}": world.certificate_code,
    }


def _filled(path: str, ids: dict[str, str]) -> str:
    for pattern, value in ids.items():
        placeholder = pattern[pattern.index("{") :]
        if pattern.startswith("/") and path.startswith(pattern):
            path = path.replace(placeholder, value, 1)
    for pattern, value in ids.items():
        if not pattern.startswith("/"):
            path = path.replace(pattern, value)
    assert "{" not in path, f"give _ids a value for the new page {path}"
    return path


def test_the_walk_holds_the_pages_known_today() -> None:
    """The route walk below is not empty by mistake (it finds what is served)."""
    assert {"/organizer", "/organizer/occurrences/{id}/evaluation"} <= set(PAGES)


async def test_every_organiser_page_has_the_menu_and_a_working_sign_out(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await build_world(client, auth, database, scheduler)
    ids, csrf = _ids(world), world.organizer_csrf
    cookie = {"Cookie": world.organizer_cookie}

    missing: dict[str, Any] = {}
    for route in PAGES:
        for lang in ("fr", "en"):
            path = _filled(route, ids)
            response = await client.get(f"{path}?lang={lang}", headers=cookie)
            html = await response.text()
            assert response.status == 200, (path, html[:300])
            menu = _menu(html) if 'class="org-menu"' in html else ""
            sign_out = [f for a, f, _ in Forms(menu).forms if a == "/organizer/signout"]
            links = re.findall(r'href="([^"]+)"', menu)
            if links != MENU or sign_out != [{"csrf": csrf}]:
                missing[f"{route} ({lang})"] = (links, sign_out)

    assert missing == {}


def test_every_organiser_page_template_includes_the_menu() -> None:
    """Pages a POST answers with (a confirmation, a form sent back with its errors, the import
    running) are not in the route walk: their templates are checked here."""
    templates = Path(render.TEMPLATES)
    pages = [
        path.name
        for path in sorted(templates.glob("org_*.html"))
        if '{% extends "base.html" %}' in path.read_text(encoding="utf-8")
    ]
    without = [
        name
        for name in pages
        if name not in NOT_ORGANISER
        and '{% include "org_nav.html" %}' not in (templates / name).read_text(encoding="utf-8")
    ]

    assert len(pages) > 10
    assert without == []
