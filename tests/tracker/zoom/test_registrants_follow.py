"""Zoom registrants follow their physician (SPEC 8): a new email or name cancels the registrant
Zoom holds and adds the physician again (Zoom has no registrant update), so the new personal
link replaces the old one; a deleted physician's registrants are cancelled at Zoom. All of it
behind the answer, through the sync's claimed rows. Both engines."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, delete

from schedules.clock import utcnow
from tests.factories import create_physician, create_series
from tests.tracker.zoom.test_reconciliation import WEBINAR, app_client, fake, zoom_settings
from tests.tracker.zoom.test_registrants import register, registrants, sync
from tests.zoom_fake import FakeZoom, loopback_only
from tracker.db import Database
from tracker.domain import zoom as rows
from tracker.domain.models import Physician, Registration
from tracker.domain.zoom import personal_links
from tracker.settings import Settings

__all__ = ["app_client", "fake", "loopback_only", "zoom_settings"]


def cancels(zoom: FakeZoom) -> list[Any]:
    return [s.body for s in zoom.seen if s.raw_path.endswith("/registrants/status")]


def adds(zoom: FakeZoom) -> list[Any]:
    return [s.body["registrants"] for s in zoom.seen if s.raw_path.endswith("/batch_registrants")]


async def test_a_new_email_cancels_the_old_registrant_and_registers_the_new_address(
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
    [old] = await registrants(database)
    feed = "/feeds/" + person["feed_url"].rsplit("/feeds/", 1)[1]
    etag = (await app_client.get(feed)).headers["ETag"]
    calls_before = len(zoom.seen)

    response = await app_client.patch(
        f"/api/physicians/{person['id']}", json={"email": "paul.new@example.org"}, headers=auth
    )
    calls_during = len(zoom.seen) - calls_before
    synced = await sync(database, zoom_settings)
    [new] = await registrants(database)
    async with database.session() as session:
        links = await personal_links(session, series["id"])
    fresh = await app_client.get(feed, headers={"If-None-Match": etag})
    unfolded = re.sub(r"\r?\n[ \t]", "", await fresh.text())

    assert response.status == 200, await response.text()
    assert calls_during == 0  # the answer never waits for Zoom
    assert (synced.cancelled, synced.added, synced.failed) == (1, 1, 0)
    assert cancels(zoom) == [
        {
            "action": "cancel",
            "registrants": [{"id": old.registrant_id, "email": "paul@example.org"}],
        }
    ]
    assert [p["email"] for p in adds(zoom)[-1]] == ["paul.new@example.org"]
    assert (new.id, new.state, new.email) == (old.id, "added", "paul.new@example.org")
    assert new.registrant_id and new.registrant_id != old.registrant_id
    assert zoom.registrants[WEBINAR][old.registrant_id or ""] == ("paul@example.org", "cancelled")
    assert links == {person["id"]: new.join_url}
    assert fresh.status == 200  # a new version of the feed, with the new link only
    assert f"URL:{new.join_url}" in unfolded
    assert str(old.join_url) not in unfolded


async def test_a_new_name_registers_again_under_it_and_nothing_else_changes_nothing(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="jeanne@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    [old] = await registrants(database)

    timezone_only = await app_client.patch(
        f"/api/physicians/{person['id']}", json={"timezone": "America/Toronto"}, headers=auth
    )
    untouched = await sync(database, zoom_settings)
    renamed = await app_client.patch(
        f"/api/physicians/{person['id']}", json={"last_name": "Martin-Durand"}, headers=auth
    )
    synced = await sync(database, zoom_settings)
    [new] = await registrants(database)

    assert (timezone_only.status, renamed.status) == (200, 200)
    assert (untouched.added, untouched.cancelled) == (0, 0)
    assert (synced.cancelled, synced.added) == (1, 1)
    assert cancels(zoom)[0]["registrants"] == [
        {"id": old.registrant_id, "email": "jeanne@example.org"}
    ]
    assert adds(zoom)[-1][0]["last_name"] == "Martin-Durand"
    assert (new.state, new.last_name) == ("added", "Martin-Durand")
    assert new.join_url != old.join_url


async def test_a_deleted_physicians_registrant_is_cancelled_at_zoom_then_forgotten(
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

    async with database.session() as session:  # physicians are not deleted by the service yet
        await session.exec(delete(Physician).where(col(Physician.id) == person["id"]))
        await session.commit()
    [orphan] = await registrants(database)
    synced = await sync(database, zoom_settings)
    [cancelled] = await registrants(database)
    await sync(database, zoom_settings)
    left = await registrants(database)

    assert (orphan.physician_id, orphan.state) == (None, "added")
    assert synced.cancelled == 1
    assert cancels(zoom) == [
        {
            "action": "cancel",
            "registrants": [{"id": added.registrant_id, "email": "paul@example.org"}],
        }
    ]
    assert cancelled.state == "cancelled"
    assert left == []


async def test_a_registrant_zoom_is_adding_is_not_forgotten_when_unregistered_meanwhile(
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
    async with database.session() as session:
        await rows.plan_registrants(session, now=utcnow())
        [work] = await rows.claim_registrants(
            session, owner="slow", now=utcnow(), lease=timedelta(minutes=5)
        )
        await session.commit()
    [(row_id, *_)] = work.rows

    async with database.session() as session:  # unregistered while Zoom answers "slow"
        await session.exec(delete(Registration))
        await rows.plan_registrants(session, now=utcnow())
        await session.commit()
    kept = await registrants(database)
    async with database.session() as session:  # Zoom's answer arrives
        await rows.registrants_added(
            session, [(row_id, "reg-slow", "https://zoom.us/w/1?tk=slow")], now=utcnow()
        )
        await session.commit()
    synced = await sync(database, zoom_settings)
    [cancelled] = await registrants(database)

    assert [r.state for r in kept] == ["add"]
    assert synced.cancelled == 1
    assert cancels(zoom)[0]["registrants"] == [{"id": "reg-slow", "email": "paul@example.org"}]
    assert cancelled.state == "cancelled"


async def test_a_replace_whose_worker_died_after_zoom_cancelled_is_finished_by_the_next(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
) -> None:
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    person = await create_physician(app_client, auth, email="paul@example.org", npi=None)
    await register(app_client, auth, series["id"], person["id"])
    await sync(database, zoom_settings)
    await app_client.patch(
        f"/api/physicians/{person['id']}", json={"email": "paul.new@example.org"}, headers=auth
    )
    async with database.session() as session:  # a worker claims the replace, then dies
        await rows.plan_registrants(session, now=utcnow())
        [work] = await rows.claim_registrants(
            session, owner="dead", now=utcnow(), lease=timedelta(minutes=5)
        )
        await session.commit()

    held = await sync(database, zoom_settings)
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=True):
        taken_over = await sync(database, zoom_settings)
    [row] = await registrants(database)

    assert work.action == "replace"
    assert (held.cancelled, held.added) == (0, 0)
    assert (taken_over.cancelled, taken_over.added) == (1, 1)
    assert (row.state, row.email) == ("added", "paul.new@example.org")
