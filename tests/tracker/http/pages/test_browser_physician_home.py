"""The physician's page and the public home in a real headless Chromium, on a phone (390 px wide)
and on a desktop: axe-core finds no serious or critical violation, nothing scrolls sideways, the
Join button of a session starting in ten minutes is there, and the copy button copies the feed.

Screenshots land in ``test-artifacts/screenshots``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, ViewportSize, expect

from tests.axe import axe_violations, require_axe
from tests.tracker.http.pages.test_browser import accessibility_basics, shot
from tracker.db import Database
from tracker.services.organizers import create_organizer

pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)
WIDE = "() => document.scrollingElement.scrollWidth"
JOIN_URL = "https://zoom.us/j/81234567890"


async def _world(site: str, database: Database) -> dict[str, Any]:
    """A weekly Paris series whose first session starts in ten minutes (so it can be joined), a
    French physician registered to it: the physician as created (with the token)."""
    start = (datetime.now(UTC) + timedelta(minutes=10)).astimezone(ZoneInfo("Europe/Paris"))
    _, org = await create_organizer(database, name="Camille", email="camille@example.org")
    auth = {"Authorization": f"Bearer {org}"}
    async with aiohttp.ClientSession(base_url=site) as http:
        series = await (
            await http.post(
                "/api/series",
                headers=auth,
                json={
                    "title": "Les lundis du numérique",
                    "description": "Une heure pour faire le point.",
                    "timezone": "Europe/Paris",
                    "start": start.strftime("%Y-%m-%dT%H:%M:00"),
                    "duration_minutes": 60,
                    "rrule": "FREQ=WEEKLY;COUNT=6",
                    "join_url": JOIN_URL,
                    "language": "fr",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}, {"type": "DPC_HOURS", "max": 1}],
                    "min_attendance_percent": 75,
                },
            )
        ).json()
        physician: dict[str, Any] = await (
            await http.post(
                "/api/physicians",
                headers=auth,
                json={
                    "first_name": "Jeanne",
                    "last_name": "Durand",
                    "email": "jeanne@example.org",
                    "language": "fr",
                    "timezone": "Europe/Paris",
                },
            )
        ).json()
        await http.post(
            f"/api/series/{series['id']}/registrations",
            headers=auth,
            json={"physician_id": physician["id"]},
        )
    return physician


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
async def test_physician_page_is_accessible_joins_and_copies_the_feed(
    browser: Browser, site: str, database: Database, size: ViewportSize, name: str
) -> None:
    require_axe()
    physician = await _world(site, database)
    context = await browser.new_context(locale="fr-FR", viewport=size)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = await context.new_page()

    await page.goto(f"{site}/me/{physician['token']}")
    await expect(
        page.get_by_role("heading", level=2, name="Vos prochaines sessions")
    ).to_be_visible()
    violations = await axe_violations(page)
    basics = await accessibility_basics(page)
    width = await page.evaluate(WIDE)
    join = page.get_by_role("link", name="Rejoindre la session").first
    await expect(join).to_be_visible()
    join_href = await join.get_attribute("href")
    await page.get_by_role("button", name="Copier le lien").click()
    await expect(page.locator("#feed-url-status")).to_have_text("Lien copié.")
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    await shot(page, f"physician-page-{name}")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=2, name="Your next sessions")).to_be_visible()
    english = await axe_violations(page)
    await context.close()

    assert violations == [] and english == []
    assert basics == []
    assert width <= size["width"]
    assert join_href == JOIN_URL
    assert copied.startswith("https://cme.example.org/feeds/cal_")


@pytest.mark.parametrize(("size", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
async def test_public_home_is_accessible_and_offers_join_and_subscribe(
    browser: Browser, site: str, database: Database, size: ViewportSize, name: str
) -> None:
    require_axe()
    await _world(site, database)
    page = await browser.new_page(locale="en-GB", viewport=size)

    await page.goto(f"{site}/")
    english = await axe_violations(page)
    basics = await accessibility_basics(page)
    width = await page.evaluate(WIDE)
    join = await page.get_by_role("link", name="Join the session").first.get_attribute("href")
    subscribe = await page.get_by_role("link", name="Subscribe in my calendar").get_attribute(
        "href"
    )
    await shot(page, f"home-live-{name}")
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Prochains webinaires")
    french = await axe_violations(page)
    french_width = await page.evaluate(WIDE)

    assert english == [] and french == []
    assert basics == []
    assert max(width, french_width) <= size["width"]
    assert join == JOIN_URL
    assert subscribe == "webcal://cme.example.org/series/les-lundis-du-numerique.ics"


async def test_axe_finds_what_a_broken_page_gets_wrong(browser: Browser) -> None:
    """The check above can fail: the same call on a page with faults reports them."""
    require_axe()
    page = await browser.new_page()
    await page.set_content(
        '<html><body><img src="x.png"><a href="/x"></a>'
        '<p style="color:#ccc;background:#fff">faint</p></body></html>'
    )

    found = {line.split(" ", 1)[0] for line in await axe_violations(page)}

    assert {"image-alt", "link-name", "color-contrast", "html-has-lang"} <= found
