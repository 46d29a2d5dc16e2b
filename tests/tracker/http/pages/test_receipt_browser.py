"""The credit receipt pages in a real headless Chromium on a phone (390 px): the physician opens
theirs from their page, an organiser from the attendance table; axe-core finds no violation in
French or English and nothing scrolls sideways. Screenshots land in
``test-artifacts/screenshots``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.axe import axe_violations, require_axe
from tests.tracker.http.pages.test_browser import accessibility_basics, shot
from tracker.db import Database
from tracker.services.finalisation import finalize
from tracker.services.organizers import create_organizer

pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = ViewportSize(width=390, height=844)
WIDE = "() => document.scrollingElement.scrollWidth"


async def _world(site: str, database: Database) -> tuple[str, int, dict[str, Any]]:
    """A Paris session two days ago, a French physician on two devices (one of them a Zoom
    participant id as long as Zoom's), credits final: the organiser token, the occurrence id,
    the physician."""
    start = (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
    local = start.astimezone(ZoneInfo("Europe/Paris"))
    _, org = await create_organizer(database, name="Camille", email="camille@example.org")
    auth = {"Authorization": f"Bearer {org}"}
    async with aiohttp.ClientSession(base_url=site) as http:
        series = await (
            await http.post(
                "/api/series",
                headers=auth,
                json={
                    "title": "Les lundis du numérique : Œuvre et santé",
                    "timezone": "Europe/Paris",
                    "start": local.strftime("%Y-%m-%dT%H:%M:00"),
                    "duration_minutes": 60,
                    "join_url": "https://zoom.us/j/81234567890",
                    "language": "fr",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}, {"type": "DPC_HOURS", "max": 1}],
                    "min_attendance_percent": 50,
                },
            )
        ).json()
        (occurrence,) = (
            await (await http.get(f"/api/series/{series['id']}/occurrences", headers=auth)).json()
        )["items"]
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
                    "send_welcome": False,
                },
            )
        ).json()
        device = "tAq7Zk3uQ9Wm1xYp2LrB0sHcVdEfGhIj/KlMnOpQrSt=="
        stays = [
            ("phone", -7, 31),
            (device, 25, 70),
        ]
        events = [
            {
                "event_id": f"{connection}-{kind}",
                "occurrence_id": occurrence["id"],
                "physician_id": physician["id"],
                "kind": kind,
                "at": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
                "connection_id": connection,
            }
            for connection, joined, left in stays
            for kind, minutes in (("join", joined), ("leave", left))
        ]
        answer = await http.post("/api/attendance-events", headers=auth, json=events)
        assert answer.status == 202, await answer.text()
    assert await finalize(
        database, occurrence["id"], now=datetime.now(UTC), grace=timedelta(minutes=90)
    )
    return org, occurrence["id"], physician


async def _checked(page: Page, name: str) -> tuple[list[Any], list[str], int]:
    violations = await axe_violations(page)
    basics = await accessibility_basics(page)
    width = int(await page.evaluate(WIDE))
    await shot(page, name)
    return violations, basics, width


async def test_the_physician_opens_the_receipt_from_their_page_on_a_phone(
    browser: Browser, site: str, database: Database
) -> None:
    require_axe()
    _, _, physician = await _world(site, database)
    context = await browser.new_context(locale="fr-FR", viewport=PHONE)
    page = await context.new_page()

    await page.goto(f"{site}/me/{physician['token']}")
    await page.get_by_role("link", name="Détail du calcul").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Justificatif de crédits")
    french = await _checked(page, "receipt-physician-phone")
    minutes = await page.locator("#receipt-minutes").inner_text()
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Credit receipt")
    english = await _checked(page, "receipt-physician-phone-en")
    await context.close()

    assert french == ([], [], french[2]) and english == ([], [], english[2])
    assert max(french[2], english[2]) <= PHONE["width"]
    assert minutes == "60 min"  # 7 min before the start and 10 after the end clipped


async def test_an_organiser_opens_a_receipt_from_the_attendance_table_on_a_phone(
    browser: Browser, site: str, database: Database
) -> None:
    require_axe()
    _, occurrence_id, _ = await _world(site, database)
    _, token = await create_organizer(database, name="Dominique", email="dom@example.org")
    context = await browser.new_context(locale="en-GB", viewport=PHONE)
    page = await context.new_page()

    await page.goto(f"{site}/organizer/login")
    await page.get_by_label("Organiser token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(f"{site}/organizer/occurrences/{occurrence_id}")
    await page.get_by_role("link", name="How it was computed").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Credit receipt")
    english = await _checked(page, "receipt-organiser-phone")
    sources = await page.locator("#receipt-sources").inner_text()
    await page.get_by_role("link", name="Français").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Justificatif de crédits")
    french = await _checked(page, "receipt-organiser-phone-fr")
    await context.close()

    assert english == ([], [], english[2]) and french == ([], [], french[2])
    assert max(english[2], french[2]) <= PHONE["width"]
    assert sources == "API"
