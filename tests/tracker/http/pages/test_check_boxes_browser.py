"""Every check box of the pages sits beside its label on a phone (390 px), in French and in
English: the public registration form's consent, the organiser's welcome and over-capacity boxes,
the weekdays and reminders of the series form (the physician's reminders: in
``test_physician_page_phone``). One pattern (``.check`` in ``base.html``) lays them all out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser

from tests.axe import axe_violations
from tests.factories import create_series
from tests.tracker.http.pages.test_browser import browser, chromium, shot
from tests.tracker.http.pages.test_physician_page_phone import BESIDE, PHONE
from tracker.app import create_app
from tracker.db import Database
from tracker.http.pages import sessions
from tracker.services import web_sessions
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

__all__ = ["browser", "chromium"]  # fixtures, imported to be found
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

#: A long title: the over-capacity box's label and the consent wrap on a phone.
TITLE = "Les lundis de la santé numérique : intelligence artificielle et pratique quotidienne"


@pytest.fixture
async def served(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings
) -> AsyncIterator[tuple[TestClient, str]]:
    server = await aiohttp_server(create_app(settings))
    client = await aiohttp_client(server)
    yield client, f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_every_check_box_sits_beside_its_label_on_a_phone(
    browser: Browser,
    served: tuple[TestClient, str],
    auth: dict[str, str],
    database: Database,
    lang: str,
) -> None:
    client, site = served
    series = await create_series(client, auth, title=TITLE, registration="open", capacity=40)
    organizer, _ = await create_organizer(database, name="Camille", email="cam@example.org")
    raw = await web_sessions.sign_in(database, organizer)
    context = await browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    await context.add_cookies([{"name": sessions.COOKIE, "value": raw, "url": site}])
    page = await context.new_page()

    seen: dict[str, Any] = {}
    for path in (
        f"/series/{series['slug']}",
        "/organizer",
        f"/organizer/series/{series['id']}",
        "/organizer/physicians",
        "/organizer/import",
    ):
        await page.goto(f"{site}{path}?lang={lang}")
        boxes = await page.evaluate(BESIDE)
        seen[path] = {
            "boxes": bool(boxes) and all(beside for _, beside in boxes),
            "apart": [name for name, beside in boxes if not beside],
            "width": await page.evaluate("document.scrollingElement.scrollWidth") <= 390,
            "axe": await axe_violations(page),
        }
        await shot(page, f"check-boxes{path.replace('/', '-')}-{lang}-phone")
    await context.close()

    assert seen == {path: {"boxes": True, "apart": [], "width": True, "axe": []} for path in seen}
