"""The organiser's Zoom page in a real Chromium on a phone (390 px), in French: reached from the
attendance page, a failed reading shown with its reason, the retry button, axe-core clean."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from tests.axe import axe_violations
from tests.factories import bearer, create_physician, create_series, occurrences
from tests.tracker.http.pages.test_browser import accessibility_basics, browser, chromium, shot
from tests.tracker.zoom.test_reconciliation import report_row
from tests.zoom_fake import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, loopback_only
from tracker.app import create_app
from tracker.db import Database
from tracker.services import zoom as zoom_service
from tracker.services.context import load_services
from tracker.services.organizers import create_organizer
from tracker.settings import Settings
from tracker.zoom import client_for
from tracker.zoom.client import forget_tokens

__all__ = ["browser", "chromium", "loopback_only"]
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

WEBINAR = "81234567890"


async def test_the_zoom_page_shows_a_failure_and_reads_the_report_again_on_a_phone(
    browser: Browser,
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Settings,
    database: Database,
    loopback_only: list[Any],
) -> None:
    forget_tokens()
    zoom = FakeZoom()
    fake = await aiohttp_server(zoom.app())
    configured = settings.model_copy(
        update={
            "zoom_account_id": ACCOUNT,
            "zoom_client_id": CLIENT_ID,
            "zoom_client_secret": SecretStr(CLIENT_SECRET),
            "zoom_api_url": str(fake.make_url("/v2")),
            "zoom_oauth_url": str(fake.make_url("/oauth/token")),
        }
    )
    client: TestClient = await aiohttp_client(create_app(configured))
    site = f"http://127.0.0.1:{client.server.port}"
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    auth = bearer(token)
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule=None,
        zoom_webinar_id=WEBINAR,
        title="Les lundis <script>alert(1)</script>",
    )
    first = (await occurrences(client, auth, series["id"]))[0]
    await create_physician(client, auth, email="jeanne@example.org", npi=None)
    zoom.instances[WEBINAR] = [("inst==", first["start"])]
    zoom.failures["participants"] = [(404, None)]
    services = await load_services(database, configured)
    async with client_for(configured) as api:
        run_id = await zoom_service.ask(services, first["id"])
        await zoom_service.run_due(services, api, run_id=run_id)
    start = datetime.fromisoformat(first["start"].replace("Z", "+00:00"))
    zoom.reports["inst=="] = [
        report_row(
            start,
            start + timedelta(minutes=50),
            user_id="1",
            email="jeanne@example.org",
            name="Jeanne",
        )
    ]
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})

    await page.goto(f"{site}/organizer/login")
    await page.get_by_label("Jeton d'organisateur").fill(token)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url("**/organizer")
    await page.goto(f"{site}/organizer/occurrences/{first['id']}")
    await page.get_by_role("link", name="Zoom : sources des faits et rapprochement").click()
    await page.wait_for_url(f"**/organizer/occurrences/{first['id']}/zoom")
    alert = await page.get_by_role("alert").inner_text()
    problems = await accessibility_basics(page)
    violations = await axe_violations(page)
    width = await page.evaluate("() => document.scrollingElement.scrollWidth")
    await shot(page, "organiser-zoom-failed-phone")
    await page.get_by_role("button", name="Relire le rapport Zoom").click()
    await page.wait_for_url("**/zoom?asked=1")
    await expect(page.get_by_role("status")).to_contain_text("en cours de lecture")
    for _ in range(50):  # the reading runs behind the answer
        await page.reload()
        if "Rapport Zoom (API)" in await page.locator("main").inner_text():
            break
    text = await page.locator("main").inner_text()
    await shot(page, "organiser-zoom-done-phone")
    forget_tokens()

    assert alert.startswith("La dernière lecture du rapport Zoom a échoué : Zoom answered 404")
    assert problems == []
    assert violations == []
    assert width <= 390
    assert "Rapport Zoom (API)\n2 faits" in text
    assert "<script>" in await page.locator("h1").inner_text()  # shown as text, not run
    assert {a[0] for a in loopback_only} == {"127.0.0.1"}
