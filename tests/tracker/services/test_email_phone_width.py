"""Every kind of email, in French and in English, fits a 390 px phone screen.

Each message is queued through the real app (its API, forms and jobs), read back from the outbox,
and its HTML part laid out by a real headless Chromium 390 px wide: the document must not be
wider than the screen. Long links (sign-in, claim, certificate check, calendar feed) and a title
without spaces are one word each; without wrapping they push the message sideways.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser

from notifications.compose import TEMPLATES
from tests.factories import (
    create_physician,
    create_series,
    every_item,
    job_context,
    occurrences,
)
from tests.smtp import parse
from tests.tracker.claims_world import CLOSES
from tests.tracker.http.pages.test_browser import browser, chromium
from tests.tracker.mail_kinds import build_world, outbox, queue_every_kind
from tests.tracker.self_registration_world import confirm, open_series, request_body
from tracker.db import Database
from tracker.jobs import JobContext, claim_reminders_job
from tracker.settings import Settings

__all__ = ["browser", "chromium"]
pytestmark = [pytest.mark.browser, pytest.mark.any_engine]

PHONE = 390
#: A public address as long as a real institute's: every emailed link starts with it.
BASE_URL = "https://formation-continue.institut-du-numerique-en-sante.example.org"
#: A title of one long word (hyphens do not break everywhere).
TITLE = "Télémédecine/Intelligence_artificielle/Données_de_santé/Pratique_quotidienne"
CONFIRM = re.compile(r"/registration/([A-Za-z0-9_-]+)")
#: (kind, language) of every HTML template: a kind added later is queued here or fails.
TEMPLATE_KINDS = {
    tuple(path.name.split(".")[:2])
    for path in TEMPLATES.glob("*.html")
    if not path.name.startswith("_")
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"base_url": BASE_URL})


def _jobs(database: Database, scheduler: Any) -> JobContext:
    """The jobs' context with the app's public address."""
    ctx: JobContext = job_context(database, scheduler)
    return dataclasses.replace(ctx, mail=dataclasses.replace(ctx.mail, base_url=BASE_URL))


async def _claim_series(client: TestClient, auth: dict[str, str], world: Any) -> None:
    """A second series of the same day that requires claims, Jeanne and Paul attending it: its
    claims go out with the first series' certificates."""
    series = await create_series(
        client,
        auth,
        title="Évaluation des pratiques professionnelles",
        start="2026-12-01T12:30:00",
        rrule=None,
        reminders=[],
        min_attendance_percent=None,
        claim_required=True,
    )
    (occurrence,) = await occurrences(client, auth, series["id"])
    events = [
        {
            "event_id": f"claim-{kind}-{who['id']}",
            "occurrence_id": occurrence["id"],
            "physician_id": who["id"],
            "kind": kind,
            "at": at,
        }
        for who in (world.jeanne, world.paul)
        for kind, at in (("join", "2026-12-01T11:30:00Z"), ("leave", "2026-12-01T12:30:00Z"))
    ]
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()


async def _self_registrations(client: TestClient, auth: dict[str, str], database: Database) -> None:
    """Confirmation requests in both languages, then a seat freed for each waiting one."""
    for language in ("fr", "en"):
        series = await open_series(client, auth, capacity=1, language=language, title=TITLE)
        url = f"/api/series/{series['id']}/self-registrations"
        for name in ("anna", "bruno"):
            body = request_body(email=f"{name}.{language}@example.org", language=language)
            response = await client.post(url, json=body)
            assert response.status == 202, await response.text()
            (message,) = [
                m
                for m in await _messages(database, "self_registration")
                if m["To"].addresses[0].addr_spec == body["email"]
            ]
            text = message.get_body(("plain",)).get_content()
            confirmed = await confirm(client, CONFIRM.search(text).group(1))
            assert confirmed.status == 200, await confirmed.text()
        (first,) = await every_item(client, auth, url, status="registered")
        gone = await client.delete(
            f"/api/series/{series['id']}/registrations/{first['physician_id']}", headers=auth
        )
        assert gone.status == 204, await gone.text()


async def _withdrawals(client: TestClient, auth: dict[str, str], world: Any) -> None:
    """Late leaves a minute into the first session, after its certificates went out: no credit
    left, so each certificate is withdrawn (Jeanne's email in French, Paul's in English)."""
    events = [
        {
            "event_id": f"late-leave-{who['id']}",
            "occurrence_id": world.occurrence_ids[0],
            "physician_id": who["id"],
            "kind": "leave",
            "at": "2026-12-01T11:31:00Z",
        }
        for who in (world.jeanne, world.paul)
    ]
    with time_machine.travel(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()


async def _messages(database: Database, kind: str | None = None) -> list[EmailMessage]:
    return [parse(row.raw) for row in await outbox(database) if kind in (None, row.kind)]


async def _every_kind(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await build_world(client, auth, title=TITLE)
    await _claim_series(client, auth, world)
    jobs = _jobs(database, scheduler)
    await queue_every_kind(client, auth, database, scheduler, world, mail=jobs.mail)
    await _withdrawals(client, auth, world)
    with time_machine.travel(CLOSES - timedelta(days=3), tick=False):
        await claim_reminders_job(jobs)
    for language in ("fr", "en"):
        welcomed = await create_physician(
            client,
            auth,
            first_name="Élise",
            email=f"elise.{language}@example.org",
            language=language,
            send_welcome=True,
        )
        asked = await client.post("/api/sign-in-links", json={"email": welcomed["email"]})
        assert asked.status == 202, await asked.text()
    await _self_registrations(client, auth, database)


async def test_every_kind_of_email_fits_a_390_px_phone_in_both_languages(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    browser: Browser,
) -> None:
    await _every_kind(client, auth, database, scheduler)
    page = await browser.new_page(viewport={"width": PHONE, "height": 800})

    widths: dict[tuple[str, str], int] = {}
    for row in await outbox(database):
        body = parse(row.raw).get_body(("html",))
        assert body is not None
        html = body.get_content()
        language = "fr" if '<html lang="fr"' in html else "en"
        await page.set_content(html)
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        key = (row.kind.replace("-", "_"), language)
        widths[key] = max(widths.get(key, 0), width)

    assert set(widths) == TEMPLATE_KINDS
    assert {key: width for key, width in widths.items() if width > PHONE} == {}
