"""The claim page in a real headless Chromium on a phone (390 px), in French and in English:
the link from the credits-are-final email, a refused submit (errors next to their fields), then
the claim with fewer minutes and the evaluation; each page checked with axe-core."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect
from sqlmodel import select

from notifications.models import OutboxMessage
from tests.axe import axe_violations
from tests.smtp import parse
from tests.tracker.claims_world import FINAL, build_claim_world, finalise, link_in
from tests.tracker.http.pages.test_browser import (  # the same browser and checks
    accessibility_basics,
    browser,
    chromium,
    shot,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Certificate
from tracker.settings import Settings

__all__ = ["browser", "chromium"]  # fixtures, imported to be found
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = {"width": 390, "height": 844}
WORDING = {
    "fr": {
        "title": "Demandez vos crédits",
        "minutes": "Minutes déclarées",
        "scale": "Cette session a-t-elle répondu à vos besoins ?",
        "yes_no": "Changerez-vous votre pratique ?",
        "yes": "Oui",
        "comments": "Vos commentaires (facultatif)",
        "attest": "Je ne demande que les crédits correspondant à ma participation effective",
        "submit": "Demander mes crédits",
        "attest_error": "Cochez l'attestation pour demander vos crédits.",
        "done": "Crédits demandés",
        "claimed": "30",
    },
    "en": {
        "title": "Claim your credits",
        "minutes": "Minutes you claim",
        "scale": "Did this session meet your needs?",
        "yes_no": "Will you change your practice?",
        "yes": "Yes",
        "comments": "Your comments (optional)",
        "attest": "I claim only the credit commensurate with the extent of my participation",
        "submit": "Claim my credits",
        "attest_error": "Tick the attestation to claim your credits.",
        "done": "Credits claimed",
        "claimed": "30",
    },
}


@pytest.fixture
async def served(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings
) -> AsyncIterator[tuple[TestClient, str]]:
    server = await aiohttp_server(create_app(settings))
    client = await aiohttp_client(server)
    yield client, f"http://127.0.0.1:{server.port}"


async def _links(database: Database) -> dict[str, str]:
    async with database.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    return {row.recipient: link_in(parse(row.raw))[0] for row in rows if row.kind == "claim"}


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_physician_claims_on_a_phone(
    browser: Browser,
    served: tuple[TestClient, str],
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    lang: str,
) -> None:
    client, site = served
    await build_claim_world(client, auth)
    await finalise(database, scheduler)
    address = "jeanne.durand@example.org" if lang == "fr" else "paul@example.org"
    path = (await _links(database))[address]
    words = WORDING[lang]
    page = await browser.new_page(
        locale="fr-FR" if lang == "fr" else "en-US",
        viewport=PHONE,  # type: ignore[arg-type]
    )
    with time_machine.travel(FINAL + timedelta(hours=2)):
        await page.goto(f"{site}{path}?lang={lang}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(words["title"])
        assert await accessibility_basics(page) == []
        assert await axe_violations(page) == []
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await shot(page, f"claim-{lang}-phone")

        minutes = page.get_by_role("textbox", name=words["minutes"])
        await expect(minutes).to_have_value("60" if lang == "fr" else "45")
        await minutes.fill(words["claimed"])
        await page.get_by_role("group", name=words["scale"]).get_by_role("radio", name="4").check()
        await (
            page.get_by_role("group", name=words["yes_no"])
            .get_by_role("radio", name=words["yes"])
            .check()
        )
        await page.get_by_role("textbox", name=words["comments"]).fill("Très utile, merci.")
        await page.get_by_role("button", name=words["submit"]).click()  # no attestation yet

        await expect(page.get_by_text(words["attest_error"])).to_be_visible()
        await expect(page.get_by_role("textbox", name=words["minutes"])).to_have_value("30")
        assert await accessibility_basics(page) == []
        assert await axe_violations(page) == []
        await shot(page, f"claim-{lang}-phone-error")

        await page.get_by_role("checkbox", name=words["attest"]).check()
        await page.get_by_role("button", name=words["submit"]).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(words["done"])
        assert await axe_violations(page) == []
        await shot(page, f"claim-{lang}-phone-done")
    async with database.session() as session:
        (certificate,) = (await session.exec(select(Certificate))).all()
    assert (certificate.minutes, certificate.credits) == (30.0, {"AMA_PRA_1": 0.5})
