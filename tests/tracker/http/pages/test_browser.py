"""The pages, driven in a real headless Chromium (Debian's /usr/bin/chromium via Playwright).

Screenshots land in ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect
from pydantic import SecretStr

from tests.factories import job_context
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.db import Database
from tracker.jobs import plan_finalisations
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

CHROMIUM = Path(os.environ.get("TRACKER_TEST_CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium is required under CI=true ({CHROMIUM} is missing)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def site(aiohttp_server: Any, settings: Settings) -> AsyncIterator[str]:
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr("zoom-secret")}))
    server = await aiohttp_server(app)
    yield f"http://127.0.0.1:{server.port}"


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def accessibility_basics(page: Page) -> list[str]:
    """Problems a screen-reader or keyboard user would hit first."""
    return list(
        await page.evaluate(
            """() => {
            const problems = [];
            if (!document.documentElement.lang) problems.push("html has no lang");
            if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
            for (const el of document.querySelectorAll("input, select, textarea")) {
              if (el.type === "hidden") continue;
              const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.getAttribute("aria-label");
              if (!labelled) problems.push(`unlabelled ${el.tagName} ${el.name}`);
            }
            for (const el of document.querySelectorAll("svg")) {
              if (!el.getAttribute("aria-label") && !el.querySelector("title")) problems.push("svg without text");
            }
            for (const el of document.querySelectorAll("button, a")) {
              if (!(el.textContent || "").trim() && !el.getAttribute("aria-label")) problems.push(`empty ${el.tagName}`);
            }
            if (!document.querySelector('meta[name="viewport"]')) problems.push("no viewport meta");
            return problems;
        }"""
        )
    )


async def test_organiser_signs_in_creates_a_series_and_cancels_an_occurrence(
    browser: Browser, site: str, database: Database
) -> None:
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    page = await browser.new_page(locale="fr-FR")

    await page.goto(f"{site}/organizer/login")
    assert await accessibility_basics(page) == []
    await page.get_by_label("Jeton d'organisateur").fill(token)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_label("Titre").fill("Les lundis du numérique")
    await page.get_by_label("Premier début (heure locale)").fill("2027-03-01T12:30")
    await page.get_by_label("Lien de connexion").fill("https://zoom.us/j/81234567890")
    await page.get_by_label("Répétition").select_option("weekly")
    await page.get_by_label("lundi").check()
    await page.get_by_label("Fin", exact=True).select_option("count")
    await page.get_by_label("Nombre de sessions").fill("6")
    await expect(page.locator("#preview li")).to_have_count(6)
    preview = await page.locator("#preview li").all_inner_texts()
    await shot(page, "organiser-new-series")
    await page.get_by_role("button", name="Créer").click()
    await page.wait_for_url("**/organizer/series/*")
    assert await accessibility_basics(page) == []
    await page.get_by_role("button", name="Annuler le lundi 8 mars 2027 à 12:30").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Annuler cette session ?")
    assert await accessibility_basics(page) == []
    await shot(page, "organiser-cancel-confirmation")
    await page.get_by_role("button", name="Oui, annuler la session").click()
    await page.wait_for_url("**/organizer/series/*")
    await shot(page, "organiser-occurrences")

    assert preview[:2] == ["le lundi 1er mars 2027 à 12:30", "le lundi 8 mars 2027 à 12:30"]
    row = page.locator("tr", has_text="le lundi 8 mars 2027 à 12:30")
    assert "annulée" in await row.inner_text()
    assert await page.get_by_role("button", name="Rétablir").count() == 1


async def test_forms_refuse_a_missing_csrf_token(
    browser: Browser, site: str, database: Database
) -> None:
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    async with aiohttp.ClientSession() as http:
        form = await http.get(f"{site}/organizer/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert csrf is not None
        signed_in = await http.post(
            f"{site}/organizer/login",
            data={"token": token, "csrf": csrf.group(1)},
            headers={"Cookie": f"tracker_login={form.cookies['tracker_login'].value}"},
            allow_redirects=False,
        )
        cookie = {"Cookie": f"tracker_session={signed_in.cookies['tracker_session'].value}"}
        with_session = await http.get(f"{site}/organizer", headers=cookie)
        forged = await http.post(f"{site}/organizer/series", data={"title": "x"}, headers=cookie)

    assert (signed_in.status, with_session.status, forged.status) == (303, 200, 403)


async def test_physician_opens_their_link_after_zoom_attendance_and_downloads_the_certificate(
    browser: Browser,
    site: str,
    database: Database,
    aiohttp_client: Any,
    settings: Settings,
    scheduler: Any,
) -> None:
    start = (datetime.now(UTC) - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    async with aiohttp.ClientSession(base_url=site) as http:
        _, org = await create_organizer(database, name="Camille", email="camille@example.org")
        auth = {"Authorization": f"Bearer {org}"}
        series = await (
            await http.post(
                "/api/series",
                headers=auth,
                json={
                    "title": "Les lundis du numérique",
                    "timezone": "UTC",
                    "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "duration_minutes": 60,
                    "join_url": "https://zoom.us/j/81234567890",
                    "language": "fr",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}],
                    "zoom_webinar_id": "81234567890",
                },
            )
        ).json()
        physician = await (
            await http.post(
                "/api/physicians",
                headers=auth,
                json={
                    "first_name": "Jeanne",
                    "last_name": "Durand",
                    "email": "jeanne@example.org",
                    "language": "fr",
                    "timezone": "Europe/Paris",
                    "npi": "1234567893",
                },
            )
        ).json()
        await http.post(
            f"/api/series/{series['id']}/registrations",
            headers=auth,
            json={"physician_id": physician["id"]},
        )
        for kind, field, minute in (("joined", "join_time", 0), ("left", "leave_time", 45)):
            body = json.dumps(
                {
                    "event": f"webinar.participant_{kind}",
                    "payload": {
                        "object": {
                            "id": "81234567890",
                            "uuid": "i==",
                            "participant": {
                                "email": "jeanne@example.org",
                                "participant_uuid": "p1",
                                field: (start + timedelta(minutes=minute)).strftime(
                                    "%Y-%m-%dT%H:%M:%SZ"
                                ),
                            },
                        }
                    },
                }
            ).encode()
            stamp = str(int(time.time()))
            await http.post(
                "/webhooks/zoom",
                data=body,
                headers={
                    "x-zm-request-timestamp": stamp,
                    "x-zm-signature": sign("zoom-secret", stamp, body),
                },
            )
    await plan_finalisations(job_context(database, scheduler))
    page = await browser.new_page(locale="fr-FR", accept_downloads=True)

    await page.goto(f"{site}/me/{physician['token']}")
    assert page.url == f"{site}/me"  # the token left the address bar
    assert await accessibility_basics(page) == []
    await shot(page, "physician-page")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Télécharger le PDF").click()
    download = await download_info.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    cookies = await page.context.cookies()

    assert "AMA PRA Category 1 Credit(s)™ 0,75" in await page.get_by_role("table").inner_text()
    assert "définitif" in await page.get_by_role("table").inner_text()
    assert pdf.startswith(b"%PDF-")
    (session_cookie,) = [c for c in cookies if c["name"] == "tracker_session"]
    assert (session_cookie["httpOnly"], session_cookie["sameSite"]) == (True, "Lax")

    staff = await browser.new_page(locale="en-GB")
    await staff.goto(f"{site}/organizer/login")
    await staff.get_by_label("Organiser token").fill(org)
    await staff.get_by_role("button", name="Sign in").click()
    await staff.goto(f"{site}/organizer/series/{series['id']}")
    await staff.get_by_role("link", name=start.strftime("on %A %-d %B %Y at %H:%M")).click()
    assert await accessibility_basics(staff) == []
    await shot(staff, "organiser-attendance")
    chart = staff.get_by_role("img")
    assert "max 1, 60 min" in (await chart.get_attribute("aria-label") or "")
    assert "Jeanne Durand" in await staff.get_by_role("table").inner_text()


async def test_public_home_lists_series_with_subscribe_links(
    browser: Browser, site: str, database: Database
) -> None:
    from tracker.services.demo import load_demo

    await load_demo(database, now=datetime.now(UTC))
    page = await browser.new_page(locale="en-GB", viewport={"width": 390, "height": 844})

    await page.goto(f"{site}/")
    assert await accessibility_basics(page) == []
    await shot(page, "home-phone")
    webcal = await page.get_by_role("link", name="Subscribe in my calendar").first.get_attribute(
        "href"
    )
    await page.get_by_role("link", name="Français").click()

    assert webcal is not None and webcal.startswith("webcal://cme.example.org/series/")
    assert await page.get_by_role("heading", level=1).inner_text() == "Prochains webinaires"


async def test_a_description_shows_the_lines_the_organiser_typed(
    browser: Browser, site: str, database: Database
) -> None:
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    start = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT12:30:00")
    async with aiohttp.ClientSession(base_url=site) as http:
        created = await http.post(
            "/api/series",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "title": "Les lundis",
                "description": "Ligne 1 : le programme.\nLigne 2 : les intervenants.",
                "timezone": "Europe/Paris",
                "start": start,
                "duration_minutes": 60,
                "join_url": "https://zoom.us/j/81234567890",
                "public": True,
            },
        )
        series = await created.json()
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})

    shown = []
    for path in ("/?lang=fr", f"/series/{series['slug']}?lang=fr"):
        await page.goto(f"{site}{path}")
        shown.append(await page.locator("p.text").first.inner_text())

    assert shown == ["Ligne 1 : le programme.\nLigne 2 : les intervenants."] * 2


async def test_physician_signs_out_and_their_page_then_shows_a_page_not_json(
    browser: Browser, site: str, database: Database
) -> None:
    _, org = await create_organizer(database, name="Camille", email="camille@example.org")
    async with aiohttp.ClientSession(base_url=site) as http:
        physician = await (
            await http.post(
                "/api/physicians",
                headers={"Authorization": f"Bearer {org}"},
                json={
                    "first_name": "Jeanne",
                    "last_name": "Durand",
                    "email": "j@example.org",
                    "language": "fr",
                },
            )
        ).json()
    page = await browser.new_page(locale="fr-FR")
    await page.goto(f"{site}/me/{physician['token']}")
    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_url(f"{site}/signed-out")

    answer = await page.goto(f"{site}/me")
    assert answer is not None
    await shot(page, "signed-out-me")

    assert (answer.status, answer.headers["content-type"].split(";")[0]) == (401, "text/html")
    assert await accessibility_basics(page) == []
    assert await page.locator("html").get_attribute("lang") == "fr"
    assert "Ouvrez le lien personnel" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_role("link", name="Retour à l'accueil").count() == 1


async def test_a_sign_in_form_posted_by_another_site_does_not_sign_the_browser_in(
    browser: Browser, site: str, database: Database, aiohttp_server: Any
) -> None:
    _, org = await create_organizer(database, name="Mallory", email="mallory@example.org")

    async def attack(_: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html lang="en"><title>Win a prize</title>
            <form id="f" method="post" action="{site}/organizer/login">
            <input name="token" value="{org}"><input name="csrf" value="guessed"></form>
            <script>document.getElementById("f").submit()</script></html>""",
        )

    evil = web.Application()
    evil.router.add_get("/", attack)
    attacker = await aiohttp_server(evil)
    page = await browser.new_page(locale="en-GB")

    async with page.expect_response(f"{site}/organizer/login") as posted:
        await page.goto(f"http://127.0.0.1:{attacker.port}/")
    response = await posted.value
    cookies = await page.context.cookies(site)

    assert response.status == 403
    assert [c for c in cookies if c["name"] == "tracker_session"] == []
    assert await page.get_by_role("heading", level=1).inner_text() == "Organiser"


async def test_organiser_pages_through_2000_physicians_and_searches_on_a_phone(
    browser: Browser, site: str, database: Database
) -> None:
    from tests.tracker.http.api.test_paging import _physician_row, add_physicians

    rows = [_physician_row(i, "Anne", f"Lambert{i:04d}") for i in range(2000)]
    rows[1500].update(first_name="Hélène", last_name="Lefèvre")
    await add_physicians(database, rows)
    _, token = await create_organizer(database, name="Camille", email="camille@example.org")
    page = await browser.new_page(locale="fr-FR", viewport={"width": 390, "height": 844})
    wide = "() => document.scrollingElement.scrollWidth"

    await page.goto(f"{site}/organizer/login")
    await page.get_by_label("Jeton d'organisateur").fill(token)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url("**/organizer")
    await page.get_by_role("link", name="Médecins", exact=True).click()
    await page.wait_for_url("**/organizer/physicians")
    assert await accessibility_basics(page) == []
    first_rows = await page.locator("tbody tr").count()
    await page.get_by_role("link", name="Page suivante").click()
    await expect(page.locator("tbody tr").first).to_contain_text("Lambert0050")
    await page.get_by_label("Rechercher par nom, courriel, NPI, RPPS ou identifiant d'ordre").fill(
        "helene lef"
    )
    await page.get_by_role("button", name="Rechercher").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await shot(page, "organiser-physicians-phone")

    assert first_rows == 50
    assert "Hélène Lefèvre" in await page.locator("tbody").inner_text()
    assert await page.evaluate(wide) <= 390
