"""The organiser console in Chromium (issue 12): the picker schedules "every second Tuesday at
18:00 Europe/Paris until June" for an organiser who has never seen an RRULE, and every organiser
page passes axe-core (no serious or critical violation) and fits a 390 px phone."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.axe import axe_violations
from tests.tracker.http.pages.test_browser import shot
from tracker.db import Database
from tracker.http.pages import sessions
from tracker.services import web_sessions
from tracker.services.organizers import create_organizer

pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


async def _signed_in(
    browser: Browser, site: str, database: Database, *, locale: str, viewport: dict[str, int]
) -> tuple[BrowserContext, str]:
    """A browser context holding an organiser's session cookie, and the organiser's API token."""
    organizer, token = await create_organizer(database, name="Camille", email="camille@example.org")
    raw = await web_sessions.sign_in(database, organizer)
    context = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    await context.add_cookies([{"name": sessions.COOKIE, "value": raw, "url": site}])
    return context, token


async def test_every_second_tuesday_at_18_paris_until_june_through_the_picker(
    browser: Browser, site: str, database: Database
) -> None:
    context, _ = await _signed_in(browser, site, database, locale="en-GB", viewport=PHONE)
    page = await context.new_page()
    year = datetime.now(UTC).year + 1
    # the second Tuesday of January next year
    first = date(year, 1, 8)
    first += timedelta(days=(1 - first.weekday()) % 7)

    await page.goto(f"{site}/organizer?lang=en")
    await page.get_by_label("Title").fill("Cardiology Tuesdays")
    await page.get_by_label("Timezone").fill("Europe/Par")
    await page.get_by_label("Timezone").fill("Europe/Paris")
    await page.get_by_label("First start (local time)").fill(first.strftime("%Y-%m-%dT18:00"))
    await page.get_by_label("Join URL").fill("https://zoom.us/j/81234567890")
    await page.get_by_label("Repeats").select_option("monthly_nth")
    await expect(page.get_by_label("On these days")).to_be_hidden()
    await page.get_by_label("Which").select_option("2")
    await page.get_by_label("Weekday").select_option("TU")
    await page.get_by_label("Ends", exact=True).select_option("until")
    await expect(page.get_by_label("Number of sessions")).to_be_hidden()
    await page.get_by_label("Last date (included)").fill(f"{year}-06-30")
    await expect(page.locator("#preview li")).to_have_count(6)
    await expect(page.locator("#rule-made")).to_have_text(
        f"FREQ=MONTHLY;BYDAY=2TU;UNTIL={year}0630"
    )
    preview = await page.locator("#preview li").all_inner_texts()
    await shot(page, "organiser-picker-second-tuesday")
    await page.get_by_role("button", name="Create").click()
    await page.wait_for_url("**/organizer/series/*")
    dates = await page.locator("table.occurrences tbody tr td:first-child").all_inner_texts()
    width = await page.evaluate("document.documentElement.scrollWidth")

    assert all(line.startswith("on Tuesday ") and line.endswith(" at 18:00") for line in preview)
    assert [d.removeprefix("on ") for d in dates] == [  # the table names the zone
        f"{p.removeprefix('on ')} (Paris time)" for p in preview
    ]
    assert f"8 June {year}" in dates[-1] or f"June {year}" in dates[-1]
    assert width <= 390
    await context.close()


async def test_a_french_organiser_types_decimal_commas_and_gets_what_she_typed(
    browser: Browser, site: str, database: Database
) -> None:
    """A number field of the browser dropped the comma of "1,5" and the series designated 15
    credits: the decimal fields are text fields, read with a comma or a point."""
    context, token = await _signed_in(browser, site, database, locale="fr-FR", viewport=PHONE)
    page = await context.new_page()
    start = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT12:30")

    await page.goto(f"{site}/organizer?lang=fr")
    await page.locator("#title").fill("Séminaire d’été")
    await page.locator("#timezone").fill("Europe/Paris")
    await page.locator("#start").fill(start)
    await page.locator("#duration_minutes").fill("90")
    await page.locator("#join_url").fill("https://zoom.us/j/81234567890")
    for field, typed in (("#credit-AMA_PRA_1", "1,5"), ("#min_attendance_percent", "66,5")):
        await page.locator(field).fill("")
        await page.locator(field).press_sequentially(typed)  # key by key, as on a keyboard
    await page.locator("#series-form button[type=submit]").click()
    await page.wait_for_url("**/organizer/series/*")
    series_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    async with aiohttp.ClientSession(base_url=site) as http:
        stored = await (
            await http.get(f"/api/series/{series_id}", headers={"Authorization": f"Bearer {token}"})
        ).json()

    assert stored["credits"] == [{"type": "AMA_PRA_1", "max": 1.5}]
    assert stored["min_attendance_percent"] == 66.5
    await context.close()


async def _pages(site: str, token: str) -> list[str]:
    """One of each organiser page, with rows in it (a series, its sessions, a physician)."""
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT12:30:00")
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=site) as http:
        series = await (
            await http.post(
                "/api/series",
                headers=auth,
                json={
                    "title": "Les lundis du numérique, une série au titre assez long pour un téléphone",
                    "timezone": "America/Argentina/ComodRivadavia",
                    "start": start,
                    "duration_minutes": 60,
                    "rrule": "FREQ=DAILY;COUNT=60",
                    "join_url": "https://zoom.us/j/81234567890",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}, {"type": "DPC_HOURS", "max": 1.5}],
                    "registration": "open",
                    "capacity": 100,
                },
            )
        ).json()
        rows = await (
            await http.get(f"/api/series/{series['id']}/occurrences", headers=auth)
        ).json()
        physician = await (
            await http.post(
                "/api/physicians",
                headers=auth,
                json={
                    "first_name": "Jeanne-Marie-Évangéline",
                    "last_name": "de La Tour d'Auvergne-Lauraguais",
                    "email": "jeanne-marie.evangeline.de-la-tour-dauvergne@hopital-universitaire.example.org",
                    "npi": "1234567893",
                },
            )
        ).json()
        await http.post(
            f"/api/series/{series['id']}/registrations",
            headers=auth,
            json={"physician_id": physician["id"]},
        )
        await http.post(
            "/api/attendance-events",
            headers=auth,
            json=[
                {
                    "event_id": "guest-1",
                    "occurrence_id": rows["items"][0]["id"],
                    "email": "invité.très.long.nom@clinique-universitaire.example.org",
                    "kind": "join",
                    "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ],
        )
    return [
        "/organizer",
        f"/organizer/series/{series['id']}",
        f"/organizer/occurrences/{rows['items'][0]['id']}",
        "/organizer/physicians",
        f"/organizer/physicians/{physician['id']}",
        "/organizer/import",
        "/organizer/unmatched",
        "/organizer/exports",
        "/organizer/outbox",
    ]


@pytest.mark.parametrize(("viewport", "locale"), [(PHONE, "fr-FR"), (DESKTOP, "en-GB")])
async def test_every_organiser_page_passes_axe_and_fits_the_screen(
    browser: Browser, site: str, database: Database, viewport: dict[str, int], locale: str
) -> None:
    context, token = await _signed_in(browser, site, database, locale=locale, viewport=viewport)
    page = await context.new_page()
    problems: dict[str, list[str]] = {}
    widths: dict[str, int] = {}
    for path in await _pages(site, token):
        await page.goto(f"{site}{path}")
        await expect(page.locator("h1")).to_have_count(1)
        problems[path] = await axe_violations(page)
        widths[path] = await page.evaluate("document.documentElement.scrollWidth")
        await shot(page, f"organiser-{viewport['width']}{path.replace('/', '-')}")
    # the cancel confirmation, and the series form refused with its errors next to the fields
    series_path = next(p for p in problems if p.startswith("/organizer/series/"))
    await page.goto(f"{site}{series_path}")
    await page.locator("table.occurrences button[aria-label]").first.click()
    await expect(page.locator("h1")).to_have_count(1)
    problems["cancel confirmation"] = await axe_violations(page)
    widths["cancel confirmation"] = await page.evaluate("document.documentElement.scrollWidth")
    await page.goto(f"{site}/organizer")
    await page.locator("#title").fill("Une série")
    await page.locator("#timezone").fill("Mars/Olympus_Mons")
    await page.locator("#start").fill("2027-01-04T12:30")
    await page.locator("#join_url").fill("https://zoom.us/j/81234567890")
    await page.locator("#series-form button[type=submit]").click()
    await expect(page.locator("#timezone-error")).to_be_visible()
    problems["refused series form"] = await axe_violations(page)
    widths["refused series form"] = await page.evaluate("document.documentElement.scrollWidth")
    await shot(page, f"organiser-{viewport['width']}-refused-series-form")

    assert {p: v for p, v in problems.items() if v} == {}
    assert {p: w for p, w in widths.items() if w > viewport["width"]} == {}
    await context.close()


async def test_import_2000_physicians_from_the_page_then_find_one_by_part_of_her_name(
    browser: Browser, site: str, database: Database, tmp_path: Path
) -> None:
    lines = ["first_name,last_name,email,language,npi"]
    lines += [f"Médecin{i},Nom{i:04d},medecin{i}@example.org,fr," for i in range(1999)]
    lines += ["Évangéline,Delacroix-Moreau,e.delacroix@example.org,fr,1234567893"]
    lines.insert(500, "Sans,Adresse,pas-une-adresse,fr,")  # a bad row, reported by its line
    csv_file = tmp_path / "médecins.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    context, _ = await _signed_in(browser, site, database, locale="fr-FR", viewport=PHONE)
    page = await context.new_page()

    await page.goto(f"{site}/organizer/physicians")
    await page.get_by_role("link", name="Importer des médecins").first.click()
    await page.get_by_label("Fichier CSV").set_input_files(str(csv_file))
    await page.get_by_label("Envoyer un courriel de bienvenue à chaque médecin créé").uncheck()
    await page.get_by_role("button", name="Importer", exact=True).click()
    await expect(page.get_by_role("heading", name="Import terminé")).to_be_visible(timeout=60_000)
    report = await page.locator("#import-report").inner_text()
    await shot(page, "organiser-import-report")
    await page.get_by_role("link", name="Médecins", exact=True).first.click()
    await page.get_by_label("Rechercher par nom, courriel, NPI, RPPS ou identifiant d'ordre").fill(
        "delacr"
    )
    await page.get_by_role("button", name="Rechercher").click()
    rows = await page.locator("tbody tr").all_inner_texts()
    await page.get_by_role("link", name="Évangéline Delacroix-Moreau").click()
    heading = await page.get_by_role("heading", level=1).inner_text()
    width = await page.evaluate("document.documentElement.scrollWidth")

    assert "2\u202f000 créés, 0 mis à jour, 0 inchangé, 1 ligne en erreur" in report
    assert "Ligne 501 :" in report
    assert len(rows) == 1 and "e.delacroix@example.org" in rows[0]
    assert heading == "Évangéline Delacroix-Moreau"
    assert width <= 390
    await context.close()


async def test_export_a_sessions_attendance_from_its_page(
    browser: Browser, site: str, database: Database
) -> None:
    context, token = await _signed_in(browser, site, database, locale="en-GB", viewport=DESKTOP)
    auth = {"Authorization": f"Bearer {token}"}
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    async with aiohttp.ClientSession(base_url=site) as http:
        series = await (
            await http.post(
                "/api/series",
                headers=auth,
                json={
                    "title": "Grand rounds",
                    "timezone": "Europe/Paris",
                    "start": start.astimezone(ZoneInfo("Europe/Paris")).strftime(
                        "%Y-%m-%dT%H:%M:%S"
                    ),
                    "duration_minutes": 60,
                    "join_url": "https://zoom.us/j/81234567890",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}],
                },
            )
        ).json()
        occurrence = (
            await (await http.get(f"/api/series/{series['id']}/occurrences", headers=auth)).json()
        )["items"][0]
        for n in range(3):
            who = await (
                await http.post(
                    "/api/physicians",
                    headers=auth,
                    json={
                        "first_name": f"P{n}",
                        "last_name": f"Doe{n}",
                        "email": f"p{n}@example.org",
                        "send_welcome": False,
                    },
                )
            ).json()
            stay = [("join", start), ("leave", start + timedelta(minutes=20 * (n + 1)))]
            await http.post(
                "/api/attendance-events",
                headers=auth,
                json=[
                    {
                        "event_id": f"{kind}-{n}",
                        "occurrence_id": occurrence["id"],
                        "physician_id": who["id"],
                        "kind": kind,
                        "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                    for kind, at in stay
                ],
            )
    page = await context.new_page()
    await page.goto(f"{site}/organizer/occurrences/{occurrence['id']}")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download the attendance (CSV)").click()
    download = await waiting.value
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8-sig")
    await context.close()

    lines = text.strip().splitlines()
    assert download.suggested_filename == f"attendance-{occurrence['id']}.csv"
    assert lines[0].startswith("last_name,first_name,email,npi,rpps,minutes,status")
    assert [line.split(",")[2] for line in lines[1:]] == [
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    ]
    assert [line.split(",")[5] for line in lines[1:]] == ["20.00", "40.00", "60.00"]
