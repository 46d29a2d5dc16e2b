"""Registrants kept in step with registrations (SPEC 8) against the local fake Zoom: batches of
30, personal links in reminders and on the physician's page, cancels, and registrations that
never wait for (nor fail with) Zoom; plus the organiser's Zoom page. Both engines."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import quote

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from tests.factories import create_physician, create_series, occurrences
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tests.tracker.security_world import physician_session
from tests.tracker.zoom.test_reconciliation import (
    AFTER,
    INSTANCE,
    START,
    WEBINAR,
    app_client,
    deliver,
    fake,
    report_row,
    webhook,
    zoom_settings,
)
from tests.zoom_fake import FakeZoom, loopback_only
from tracker.db import Database
from tracker.domain.models import OutboxMessage, ZoomRegistrant
from tracker.domain.zoom import personal_links
from tracker.http.background import BACKGROUND
from tracker.services import reminders
from tracker.services import zoom as zoom_service
from tracker.services.context import load_services
from tracker.settings import Settings
from tracker.zoom import client_for
from tracker.zoom.client import ZoomClient

__all__ = ["app_client", "fake", "loopback_only", "zoom_settings"]


def quick(settings: Settings) -> ZoomClient:
    """The configured client, its backoff waits skipped (they are the client tests' subject)."""
    client = client_for(settings)
    assert client is not None

    async def no_wait(_seconds: float) -> None:
        return None

    client._sleep = no_wait
    return client


async def sync(database: Database, settings: Settings) -> zoom_service.Synced:
    services = await load_services(database, settings)
    async with quick(settings) as client:
        return await zoom_service.sync_registrants(services, client)


async def registrants(database: Database) -> list[ZoomRegistrant]:
    async with database.session() as session:
        return list(
            (await session.exec(select(ZoomRegistrant).order_by(col(ZoomRegistrant.id)))).all()
        )


async def register(client: TestClient, auth: dict[str, str], series_id: int, pid: int) -> None:
    response = await client.post(
        f"/api/series/{series_id}/registrations", json={"physician_id": pid}, headers=auth
    )
    assert response.status == 201, await response.text()


async def test_registrations_become_registrants_thirty_per_call_with_personal_links(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    people = [
        await create_physician(app_client, auth, email=f"p{n}@example.org", npi=None)
        for n in range(35)
    ]
    for person in people:
        await register(app_client, auth, series["id"], person["id"])

    synced = await sync(database, zoom_settings)
    again = await sync(database, zoom_settings)
    rows = await registrants(database)

    assert (synced.added, synced.failed) == (35, 0)
    assert (again.added, again.cancelled, again.failed) == (0, 0, 0)
    calls = [s for s in zoom.seen if s.raw_path.endswith("/batch_registrants")]
    assert [len(c.body["registrants"]) for c in calls] == [30, 5]
    assert {c.raw_path for c in calls} == {f"/v2/webinars/{WEBINAR}/batch_registrants"}
    assert [r.state for r in rows] == ["added"] * 35
    by_email = {email: rid for rid, (email, _) in zoom.registrants[WEBINAR].items()}
    email_of = {p["id"]: p["email"] for p in people}
    assert {r.registrant_id for r in rows} == set(by_email.values())
    assert all(r.registrant_id == by_email[email_of[r.physician_id]] for r in rows)
    assert all(
        r.join_url == f"https://zoom.us/w/{WEBINAR}?tk=personal-{r.registrant_id}" for r in rows
    )


async def test_reminders_and_the_physician_page_carry_the_personal_link(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    person = await create_physician(app_client, auth, email="jeanne@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    [row] = await registrants(database)
    services = await load_services(database, zoom_settings)

    with time_machine.travel(START - timedelta(days=1, minutes=-1), tick=False):
        queued = await reminders.send_reminders(
            database, services.mail, first["id"], "P1D", now=START - timedelta(days=1)
        )
        cookie, _ = await physician_session(app_client, person["token"])
        page = await app_client.get("/me", headers={"Cookie": cookie})
        html = await page.text()
        ics = await app_client.get(f"/me/occurrences/{first['id']}.ics", headers={"Cookie": cookie})
        one_session = re.sub(r"\r?\n[ \t]", "", await ics.text())
    async with database.session() as session:
        [message] = (await session.exec(select(OutboxMessage))).all()
    mail = message_from_bytes(message.raw, policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    invitation = next(
        part.get_content() for part in mail.walk() if part.get_content_type() == "text/calendar"
    )

    assert queued == 1
    assert row.join_url and row.join_url in text
    assert "https://zoom.us/j/81234567890" not in text
    unfolded = re.sub(r"\r?\n[ \t]", "", invitation)
    assert f"URL:{row.join_url}" in unfolded
    assert page.status == 200
    assert quote(row.join_url, safe="") in html  # the add-to-calendar links hold it
    assert ics.status == 200
    assert f"URL:{row.join_url}" in one_session


async def test_a_registration_never_waits_for_zoom_and_a_failed_sync_is_retried(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="paul@example.org", npi=None)
    zoom.failures["batch_registrants"] = [(503, None)] * 5

    await register(app_client, auth, series["id"], person["id"])  # Zoom is down: still 201
    failed = await sync(database, zoom_settings)
    [waiting] = await registrants(database)
    too_soon = await sync(database, zoom_settings)
    assert waiting.next_attempt_at is not None
    with time_machine.travel(waiting.next_attempt_at + timedelta(seconds=1), tick=True):
        retried = await sync(database, zoom_settings)
    [done] = await registrants(database)

    assert (failed.added, failed.failed) == (0, 1)
    assert (waiting.state, waiting.attempts) == ("add", 1)
    assert waiting.error == (
        f"Zoom answered 503 Internal error to POST /webinars/{WEBINAR}/batch_registrants (5 attempts)"
    )
    assert (too_soon.added, too_soon.failed) == (0, 0)
    assert (retried.added, done.state, done.attempts, done.error) == (1, "added", 0, None)


async def test_unregistering_cancels_the_registrant(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="paul@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    [added] = await registrants(database)

    response = await app_client.delete(
        f"/api/series/{series['id']}/registrations/{person['id']}", headers=auth
    )
    assert response.status == 204
    synced = await sync(database, zoom_settings)
    [cancelled] = await registrants(database)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    [back] = await registrants(database)

    assert synced.cancelled == 1
    put = next(s for s in zoom.seen if s.raw_path.endswith("/registrants/status"))
    assert put.body == {
        "action": "cancel",
        "registrants": [{"id": added.registrant_id, "email": "paul@example.org"}],
    }
    assert cancelled.state == "cancelled"
    assert (
        back.state == "added" and back.registrant_id and back.registrant_id != added.registrant_id
    )


async def test_the_organiser_page_shows_sources_a_failure_and_retries(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    person = await create_physician(app_client, auth, email="jeanne@example.org", npi=None)
    zoom.failures["participants"] = [(404, None)]
    zoom.reports[INSTANCE] = [
        report_row(
            START,
            START + timedelta(minutes=40),
            user_id="1",
            email="jeanne@example.org",
            name="<b>Jeanne</b>",
        )
    ]
    url = f"/organizer/occurrences/{first['id']}/zoom"

    with time_machine.travel(AFTER, tick=True):
        cookie = await organiser_cookie(database) | {"Accept-Language": "fr"}
        await deliver(
            app_client,
            webhook(True, START, connection="1", email="jeanne@example.org", name="Jeanne"),
        )
        services = await load_services(database, zoom_settings)
        async with quick(zoom_settings) as client:
            await zoom_service.plan_and_run(services, client)
        failed_page = await (await app_client.get(url, headers=cookie)).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', failed_page).group(1)
        forged = await app_client.post(
            url, data={"csrf": "nope"}, headers=cookie, allow_redirects=False
        )
        asked = await app_client.post(
            url, data={"csrf": csrf}, headers=cookie, allow_redirects=False
        )
        await app_client.app[BACKGROUND].drain()  # the run behind the answer
        done_page = await (await app_client.get(url, headers=cookie)).text()
        attendance = await (
            await app_client.get(f"/organizer/occurrences/{first['id']}", headers=cookie)
        ).text()

    assert person["id"]
    assert (
        "La dernière lecture du rapport Zoom a échoué : Zoom answered 404 Webinar does not exist."
        in failed_page
    )
    assert "<td>Webhook Zoom</td><td>1 fait</td>" in failed_page
    assert forged.status == 403
    assert (asked.status, asked.headers["Location"]) == (303, f"{url}?asked=1")
    assert "échoué" not in done_page.split("<h2>")[0]
    assert "<td>Rapport Zoom (API)</td><td>2 faits</td>" in done_page
    assert "<td>Webhook Zoom</td><td>1 fait</td>" in done_page
    assert f'href="/organizer/occurrences/{first["id"]}/zoom"' in attendance


async def test_a_new_webinar_id_registers_again_and_the_old_link_is_not_used(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="paul@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    response = await app_client.patch(
        f"/api/series/{series['id']}", json={"zoom_webinar_id": "87654321098"}, headers=auth
    )
    assert response.status == 200, await response.text()
    async with database.session() as session:
        stale = await personal_links(session, series["id"])
    await sync(database, zoom_settings)
    [row] = await registrants(database)

    assert stale == {}
    assert (row.zoom_webinar_id, row.state) == ("87654321098", "added")
    assert row.join_url == f"https://zoom.us/w/87654321098?tk=personal-{row.registrant_id}"
    assert list(zoom.registrants["87654321098"]) == [row.registrant_id]


async def test_the_personal_feed_carries_the_personal_link_once_zoom_gave_it(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="jeanne@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    feed = "/feeds/" + person["feed_url"].rsplit("/feeds/", 1)[1]

    shared = await app_client.get(feed)
    etag = shared.headers["ETag"]
    before = re.sub(r"\r?\n[ \t]", "", await shared.text())
    await sync(database, zoom_settings)
    [row] = await registrants(database)
    fresh = await app_client.get(feed, headers={"If-None-Match": etag})
    after = re.sub(r"\r?\n[ \t]", "", await fresh.text())
    public = re.sub(r"\r?\n[ \t]", "", await (await app_client.get("/calendar.ics")).text())

    assert "URL:https://zoom.us/j/81234567890" in before
    assert fresh.status == 200  # a new version, not 304
    assert row.join_url and f"URL:{row.join_url}" in after
    assert "URL:https://zoom.us/j/81234567890" not in after
    assert row.join_url not in public
