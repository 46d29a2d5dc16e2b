"""The certificate verification page in a real headless Chromium on a phone (390 px), in French
and English, in its three states (valid, superseded, revoked): what the QR code opens. Each page
is checked by axe-core (no serious or critical violation) and must not scroll sideways."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from tests.axe import axe_violations
from tests.tracker.http.pages.test_browser import (  # the same browser and checks
    accessibility_basics,
    browser,
    chromium,
    shot,
)
from tests.tracker.security_world import build_world
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Certificate
from tracker.settings import Settings

__all__ = ["browser", "chromium"]  # fixtures, imported to be found
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = {"width": 390, "height": 844}
REPLACEMENT = "NEWCODE-2222222-3333333-4444444"
SAYS = {
    ("valid", "fr"): "Cette attestation est valide.",
    ("valid", "en"): "This certificate is valid.",
    ("superseded", "fr"): "Cette attestation a été remplacée par une plus récente.",
    ("superseded", "en"): "This certificate was replaced by a later one.",
    ("revoked", "fr"): "Cette attestation a été révoquée par son organisme le",
    ("revoked", "en"): "This certificate was revoked by its provider on",
}
HEADING = {"fr": "Vérification d'attestation", "en": "Certificate verification"}


async def test_the_three_states_read_well_on_a_phone_in_french_and_english(
    browser: Browser,
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Settings,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
) -> None:
    server = await aiohttp_server(create_app(settings))
    client: TestClient = await aiohttp_client(server)
    world = await build_world(client, auth, database, scheduler)
    site = f"http://127.0.0.1:{server.port}"
    page = await browser.new_page(viewport=PHONE)  # type: ignore[arg-type]

    async def check(state: str, lang: str, code: str) -> None:
        await page.goto(f"{site}/certificates/{code}?lang={lang}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(HEADING[lang])
        said = page.get_by_role("status" if state == "valid" else "alert")
        await expect(said).to_contain_text(SAYS[state, lang])
        assert await page.locator("html").get_attribute("lang") == lang
        assert await accessibility_basics(page) == []
        assert await axe_violations(page) == []
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shot(page, f"certificate-{state}-{lang}-phone")

    for lang in ("fr", "en"):
        await check("valid", lang, world.certificate_code)
    async with database.session() as session:
        session.add(
            Certificate(
                code=REPLACEMENT,
                occurrence_id=world.past_occurrence_id,
                physician_id=world.jeanne.id,
                version=2,
                minutes=30,
                credits={"AMA_PRA_1": 0.5},
            )
        )
        await session.commit()
    revoked = await client.post(f"/api/certificates/{REPLACEMENT}/revocation", headers=auth)
    assert revoked.status == 200
    for lang in ("fr", "en"):
        await check("superseded", lang, world.certificate_code)
        await page.get_by_role("link", name=REPLACEMENT).click()
        await page.wait_for_url(f"{site}/certificates/{REPLACEMENT}")
        await check("revoked", lang, REPLACEMENT)
