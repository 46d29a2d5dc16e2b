"""A row stored before dates were checked (a session in year 9999) breaks no page or list.

pytestmark = pytest.mark.any_engine

Feeds have their own tests (test_feeds_hostile.py); these walk the other readers of the same
rows: the organiser's pages, the public home, the occurrence list of the API.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from schedules.models import Series
from tests.factories import create_physician, create_series, occurrences
from tests.tracker.http.api.test_feeds_hostile import _store_occurrence_at
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tests.tracker.security_world import physician_session
from tracker.db import Database
from tracker.domain.models import Physician

YEAR_9999 = datetime(9999, 12, 31, 22, 59, tzinfo=UTC)


async def test_a_session_stored_in_year_9999_leaves_every_page_and_list_answering(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth)
    rows = await occurrences(client, auth, series["id"])
    await _store_occurrence_at(database, rows[3]["id"], YEAR_9999)
    cookie = await organiser_cookie(database)

    answers = {
        path: (await client.get(path, headers=cookie)).status
        for path in (
            "/",
            "/organizer",
            f"/organizer/series/{series['id']}",
            f"/organizer/occurrences/{rows[3]['id']}",
        )
    }
    listed = await client.get(f"/api/series/{series['id']}/occurrences", headers=auth)

    assert answers == dict.fromkeys(answers, 200)
    assert listed.status == 200
    assert len((await listed.json())["items"]) == len(rows)


@pytest.mark.parametrize("zone", ["Factory", "localtime"])
async def test_a_zone_stored_before_zones_were_checked_leaves_every_page_answering(
    client: TestClient, auth: dict[str, str], database: Database, zone: str
) -> None:
    """tzdata's placeholder and the machine's own zone are refused now; a series or a
    physician stored with one earlier is shown with the zone's name as it is."""
    series = await create_series(client, auth)
    physician = await create_physician(client, auth)
    cookie = await organiser_cookie(database)
    async with database.session() as session:
        await session.exec(update(Series).values(timezone=zone))
        await session.exec(update(Physician).values(timezone=zone))
        await session.commit()
    me, _ = await physician_session(client, physician["token"])

    answers = {
        path: (await client.get(path, headers=cookie)).status
        for path in (
            "/",
            f"/series/{series['slug']}",
            "/organizer",
            f"/organizer/series/{series['id']}",
            f"/organizer/physicians/{physician['id']}",
        )
    }
    own = await client.get("/me", headers={"Cookie": me})

    assert answers == dict.fromkeys(answers, 200)
    assert own.status == 200
