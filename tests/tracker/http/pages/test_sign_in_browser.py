"""Sign-in links in a real headless Chromium, at phone and desktop sizes: the form on the home
page, the link's page and its button, the spent link, the signed-out page; each page with
axe-core (no serious or critical violation)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect
from sqlmodel import select

from notifications.models import OutboxMessage
from tests.axe import axe_violations
from tests.smtp import parse
from tests.tracker.http.pages.test_browser import (  # the same browser and checks
    accessibility_basics,
    browser,
    chromium,
    shot,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.http.background import BACKGROUND
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

__all__ = ["browser", "chromium"]  # fixtures, imported to be found
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


async def checked(page: Page, name: str) -> None:
    assert await accessibility_basics(page) == []
    assert await axe_violations(page) == []
    await shot(page, name)


@pytest.fixture
async def app_and_site(
    aiohttp_server: Any, settings: Settings
) -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(settings)
    server = await aiohttp_server(app)
    yield app, f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_a_lost_link_is_recovered_by_email(
    browser: Browser,
    app_and_site: tuple[web.Application, str],
    database: Database,
    size: str,
) -> None:
    app, site = app_and_site
    _, org = await create_organizer(database, name="Camille", email="camille@example.org")
    async with aiohttp.ClientSession(base_url=site) as http:
        await http.post(
            "/api/physicians",
            headers={"Authorization": f"Bearer {org}"},
            json={
                "first_name": "Jeanne",
                "last_name": "Durand",
                "email": "jeanne@example.org",
                "language": "fr",
                "send_welcome": False,
            },
        )
    page = await browser.new_page(locale="fr-FR", viewport=SIZES[size])  # type: ignore[arg-type]

    await page.goto(f"{site}/?lang=fr")
    await checked(page, f"sign-in-home-{size}")
    await page.get_by_role("textbox", name="Courriel").fill("jeanne@example.org")
    await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre messagerie")
    await checked(page, f"sign-in-sent-{size}")
    await app[BACKGROUND].drain()
    async with database.session() as session:
        raw = (await session.exec(select(OutboxMessage.raw))).one()
    body = parse(raw).get_body(("plain",))
    assert body is not None
    link = re.search(r"https://cme\.example\.org(/me/sign-in/\S+)", body.get_content())
    assert link is not None

    await page.goto(site + link.group(1))
    await checked(page, f"sign-in-link-{size}")
    await page.get_by_role("button", name="Me connecter").click()
    await page.wait_for_url(f"{site}/me")
    await page.goto(site + link.group(1))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Lien expiré ou déjà utilisé")
    await checked(page, f"sign-in-link-spent-{size}")
    await page.goto(f"{site}/signed-out?lang=en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Signed out")
    await checked(page, f"signed-out-{size}")
