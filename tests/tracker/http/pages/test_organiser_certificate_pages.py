"""Revoking a certificate from the organiser console, as a browser without JavaScript does it:
the physician's page offers a button, a confirmation asks (a reason may be given), then the
physician's page and the certificate's public check both say it is revoked. A physician, a
stale form or an unknown code revoke nothing."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, expect

from tests.axe import axe_violations
from tests.tracker.http.pages.test_browser import shot
from tests.tracker.http.pages.test_organiser_pages import Forms
from tests.tracker.security_world import World, build_world
from tracker.app import create_app
from tracker.db import Database
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SAYS = {
    "fr": {
        "button": "Révoquer",
        "question": "Révoquer cette attestation ?",
        "done": "L'attestation est révoquée.",
        "revoked": "révoquée le",
        "public": "Cette attestation a été révoquée par son organisme le",
    },
    "en": {
        "button": "Revoke",
        "question": "Revoke this certificate?",
        "done": "The certificate is revoked.",
        "revoked": "revoked on",
        "public": "This certificate was revoked by its provider on",
    },
}


@pytest.fixture
async def world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> World:
    return await build_world(client, auth, database, scheduler)


def _organiser(world: World, lang: str) -> dict[str, str]:
    return {**BROWSER, "Cookie": world.organizer_cookie, "Accept-Language": lang}


async def _status(client: TestClient, code: str) -> str:
    check = await client.get(f"/certificates/{code}", headers={"Accept": "application/json"})
    return str((await check.json())["status"])


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_an_organiser_revokes_a_certificate_from_the_physicians_page(
    client: TestClient, world: World, lang: str
) -> None:
    code, says = world.certificate_code, SAYS[lang]
    headers = _organiser(world, lang)
    physician_page = f"/organizer/physicians/{world.jeanne.id}"

    before = await (await client.get(physician_page, headers=headers)).text()
    (button,) = [a for a, _, _ in Forms(before).forms if a.endswith("/revoke")]
    asked = await client.get(button, headers=headers)
    question = await asked.text()
    form = Forms(question).by_id("revoke-form")
    status_while_asked = await _status(client, code)
    done = await client.post(
        button,
        data={**form, "reason": "attendance forged <b>by a script</b>"},
        headers=headers,
        allow_redirects=False,
    )
    after = unescape(await (await client.get(done.headers["Location"], headers=headers)).text())
    public = unescape(await (await client.get(f"/certificates/{code}", headers=headers)).text())

    assert button == f"/organizer/certificates/{code}/revoke"
    assert f">{says['button']}</button>" in before
    assert (asked.status, status_while_asked) == (200, "valid")
    assert says["question"] in unescape(question)
    assert set(form) == {"csrf", "reason"}
    assert (done.status, done.headers["Location"]) == (
        303,
        f"{physician_page}?done=revoke#certificate-{code}",
    )
    assert says["done"] in after
    assert re.search(
        rf"{says['revoked']} [^<]+</strong>: attendance forged <b>by a script</b>", after
    )
    assert not [a for a, _, _ in Forms(after).forms if a.endswith("/revoke")]
    assert says["public"] in public
    assert "attendance forged" not in public  # the reason is for organisers
    assert await _status(client, code) == "revoked"


async def test_the_confirmation_of_a_revoked_certificate_offers_nothing_more(
    client: TestClient, world: World, auth: dict[str, str]
) -> None:
    code = world.certificate_code
    revoked = await client.post(f"/api/certificates/{code}/revocation", headers=auth)

    page = await client.get(
        f"/organizer/certificates/{code}/revoke", headers=_organiser(world, "en")
    )
    html = await page.text()

    assert (revoked.status, page.status) == (200, 200)
    assert "This certificate was revoked on" in html
    assert [a for a, _, _ in Forms(html).forms if "/certificates/" in a] == []


async def test_a_physician_cannot_revoke_a_certificate(client: TestClient, world: World) -> None:
    code = world.certificate_code
    jeanne = {**BROWSER, "Cookie": world.jeanne.cookie}

    asked = await client.get(
        f"/organizer/certificates/{code}/revoke", headers=jeanne, allow_redirects=False
    )
    posted = await client.post(
        f"/organizer/certificates/{code}/revoke",
        data={"csrf": world.jeanne.csrf, "reason": "mine"},
        headers=jeanne,
        allow_redirects=False,
    )

    assert (asked.status, asked.headers["Location"]) == (303, "/organizer/login")
    assert (posted.status, posted.headers["Location"]) == (303, "/organizer/login")
    assert await _status(client, code) == "valid"


async def test_a_forged_revocation_form_or_an_unknown_code_revokes_nothing(
    client: TestClient, world: World
) -> None:
    code = world.certificate_code
    headers = _organiser(world, "fr")

    forged = await client.post(
        f"/organizer/certificates/{code}/revoke",
        data={"csrf": "forged"},
        headers=headers,
        allow_redirects=False,
    )
    unknown = await client.post(
        "/organizer/certificates/NOPE/revoke",
        data={"csrf": world.organizer_csrf},
        headers=headers,
        allow_redirects=False,
    )

    assert (forged.status, unknown.status) == (403, 404)
    assert await _status(client, code) == "valid"


@pytest.mark.browser
@pytest.mark.parametrize(("locale", "viewport"), [("fr-FR", PHONE), ("en-GB", DESKTOP)])
async def test_the_revocation_pages_pass_axe_and_fit_the_screen(
    browser: Browser,
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Settings,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    locale: str,
    viewport: dict[str, int],
) -> None:
    server = await aiohttp_server(create_app(settings))
    world = await build_world(await aiohttp_client(server), auth, database, scheduler)
    site = f"http://127.0.0.1:{server.port}"
    context = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    name, value = world.organizer_cookie.split("=", 1)
    await context.add_cookies([{"name": name, "value": value, "url": site}])
    page = await context.new_page()
    says = SAYS[locale[:2]]
    problems: dict[str, list[str]] = {}
    widths: dict[str, int] = {}

    async def check(state: str) -> None:
        await expect(page.locator("h1")).to_have_count(1)
        problems[state] = await axe_violations(page)
        widths[state] = await page.evaluate("document.documentElement.scrollWidth")
        await shot(page, f"organiser-revoke-{state}-{viewport['width']}")

    await page.goto(f"{site}/organizer/physicians/{world.jeanne.id}")
    await check("offered")
    await page.get_by_role("button", name=f"{says['button']} {world.certificate_code}").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(says["question"])
    await check("asked")
    await page.get_by_role("textbox").fill("attendance forged")
    await page.locator("#revoke-form button[type=submit]").click()
    await expect(page.get_by_role("status")).to_have_text(says["done"])
    await check("revoked")
    await context.close()

    assert {state: v for state, v in problems.items() if v} == {}
    assert {state: w for state, w in widths.items() if w > viewport["width"]} == {}
