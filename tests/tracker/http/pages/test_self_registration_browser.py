"""Self-registration in a real Chromium on a phone-sized screen (390 px), checked with axe-core:
a newcomer registers from the public series page, confirms from the email's link, and lands
signed in with the series on their page."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.axe import axe_violations
from tests.factories import series_body
from tests.tracker.http.pages.test_browser import (  # noqa: F401  # fixtures
    accessibility_basics,
    browser,
    chromium,
    shot,
    site,
)
from tests.tracker.self_registration_world import code_in, queued
from tracker.db import Database
from tracker.services.organizers import create_organizer

pytestmark = [pytest.mark.browser, pytest.mark.any_engine]


async def fits_the_screen(page: Page) -> bool:
    return bool(
        await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    )


async def test_a_newcomer_registers_confirms_and_lands_on_their_page_on_a_phone(
    browser: Browser,  # noqa: F811
    site: str,  # noqa: F811
    database: Database,
) -> None:
    _, org = await create_organizer(database, name="Camille", email="camille@example.org")
    async with aiohttp.ClientSession(base_url=site) as http:
        created = await (
            await http.post(
                "/api/series",
                headers={"Authorization": f"Bearer {org}"},
                json=series_body(registration="open", capacity=40),
            )
        ).json()
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})

    await page.goto(f"{site}/series/{created['slug']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Les lundis de la santé numérique"
    )
    assert await page.get_by_text("lundi 1er mars 2027 à 12:30 (heure de Paris)").count() == 1
    assert await accessibility_basics(page) == []
    assert await axe_violations(page) == []
    assert await fits_the_screen(page)
    await shot(page, "selfreg-series-page-390")
    await page.get_by_label("Prénom").fill("Inès")
    await page.get_by_label("Nom", exact=True).fill("Moreau")
    await page.get_by_label("Courriel", exact=True).fill("ines.moreau@example.org")
    await page.get_by_label("Votre fuseau horaire").select_option("America/Montreal")
    await page.get_by_label("RPPS (facultatif, 11 chiffres)").fill("10001234567")
    await page.get_by_label("J'accepte que mes participations").check()
    await page.get_by_role("button", name="S'inscrire").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre messagerie")
    assert await axe_violations(page) == []

    [(_, message)] = await queued(database, "self_registration")
    await page.goto(f"{site}/registration/{code_in(message)}")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Confirmer mon inscription").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Vous êtes inscrit(e)")
    assert await axe_violations(page) == []
    await shot(page, "selfreg-confirmed-390")
    await page.get_by_role("link", name="Aller à ma page").click()
    await expect(page.get_by_role("heading", name="Mes séries")).to_be_visible()
    assert await page.get_by_role(
        "button", name="Me désinscrire de Les lundis de la santé numérique"
    ).is_visible()
    assert await fits_the_screen(page)
