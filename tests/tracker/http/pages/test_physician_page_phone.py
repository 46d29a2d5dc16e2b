"""The physician's page on a phone (390 px), in French and in English, with a claim to make: each
reminder check box sits beside its label, the credits of a session waiting for its claim say so
(not an empty "Crédits :"), nothing scrolls sideways, and axe-core finds nothing serious.

Screenshots land in ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page

from tests.axe import axe_violations
from tests.tracker.claims_world import CLOSES, FINAL, build_claim_world, finalise
from tests.tracker.http.pages.test_browser import (  # the same browser and checks
    accessibility_basics,
    browser,
    chromium,
    shot,
)
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tracker.app import create_app
from tracker.db import Database
from tracker.settings import Settings

__all__ = ["browser", "chromium"]  # fixtures, imported to be found
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = {"width": 390, "height": 844}
#: A title that takes two lines beside a check box on a phone.
TITLE = "Les lundis de la santé numérique : intelligence artificielle et pratique quotidienne"
#: What the credits cell of the claimed session reads, the column's name first (on a phone the
#: table's rows are blocks, each cell named).
CREDITS = {
    ("fr", "open"): "Crédits : attribués une fois demandés",
    ("en", "open"): "Credits: awarded once claimed",
    ("fr", "closed"): "Crédits : aucun",
    ("en", "closed"): "Credits: none",
}
#: Each check box with a label: whether it sits left of its label, on the label's first line.
BESIDE = """() => [...document.querySelectorAll('input[type=checkbox]')].map(box => {
    const label = document.querySelector(`label[for="${box.id}"]`);
    const b = box.getBoundingClientRect(), l = label.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(label).lineHeight);
    return [box.id, b.right <= l.left && b.top < l.top + line && b.bottom > l.top];
})"""


@pytest.fixture
async def served(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings
) -> AsyncIterator[tuple[TestClient, str]]:
    server = await aiohttp_server(create_app(settings))
    client = await aiohttp_client(server)
    yield client, f"http://127.0.0.1:{server.port}"


async def _my_page(browser: Browser, site: str, physician: dict[str, Any], lang: str) -> Page:
    page = await browser.new_page(
        locale="fr-FR" if lang == "fr" else "en-US",
        viewport=PHONE,  # type: ignore[arg-type]
    )
    await page.goto(f"{site}/me/{physician['token']}")
    return page


async def _credits_cell(page: Page) -> str:
    row = page.locator("section[aria-labelledby=sessions] tbody tr", has_text=TITLE)
    return " ".join((await row.locator("td").nth(3).inner_text()).split())


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_my_page_on_a_phone_names_the_credits_to_claim_and_keeps_boxes_by_labels(
    browser: Browser,
    served: tuple[TestClient, str],
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    lang: str,
) -> None:
    client, site = served
    world = await build_claim_world(client, auth, title=TITLE)
    physician = world.jeanne if lang == "fr" else world.paul
    registered = await client.post(
        f"/api/series/{world.series_id}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    assert registered.status == 201, await registered.text()
    await finalise(database, scheduler)

    seen: dict[str, Any] = {}
    for state, at in (("open", FINAL + timedelta(hours=2)), ("closed", CLOSES + timedelta(days=1))):
        with time_machine.travel(at):
            page = await _my_page(browser, site, physician, lang)
            seen[state] = await _credits_cell(page)
            seen[f"{state} boxes"] = await page.evaluate(BESIDE)
            seen[f"{state} width"] = await page.evaluate("document.scrollingElement.scrollWidth")
            seen[f"{state} axe"] = await axe_violations(page)
            seen[f"{state} basics"] = await accessibility_basics(page)
            await shot(page, f"physician-page-claim-{state}-{lang}-phone")
            await page.close()

    for state in ("open", "closed"):
        assert seen[state].startswith(CREDITS[lang, state]), seen[state]
        assert seen[f"{state} boxes"] == [[f"reg-{world.series_id}", True]]
        assert seen[f"{state} width"] <= PHONE["width"]
        assert seen[f"{state} axe"] == [] and seen[f"{state} basics"] == []


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_organisers_view_of_a_physician_names_the_credits_to_claim(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any, lang: str
) -> None:
    world = await build_claim_world(client, auth, title=TITLE)
    await finalise(database, scheduler)
    cookie = await organiser_cookie(database)

    cells: dict[str, str] = {}
    for state, at in (("open", FINAL + timedelta(hours=2)), ("closed", CLOSES + timedelta(days=1))):
        with time_machine.travel(at):
            response = await client.get(
                f"/organizer/physicians/{world.jeanne['id']}?lang={lang}", headers=cookie
            )
            html = unescape(await response.text())
        row = html[html.index(f"<td>{TITLE}</td>") :]
        cells[state] = re.findall(r"<td>(.*?)</td>", row[: row.index("</tr>")])[3]

    expected = {state: CREDITS[lang, state].split(":", 1)[1].strip() for state in cells}
    assert {state: re.sub(r"<span.*?</span>", "", cell) for state, cell in cells.items()} == (
        expected
    )
