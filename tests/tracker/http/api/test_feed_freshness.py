"""Feeds answer a conditional GET from their stored version, without loading or rendering
anything; an unchanged feed comes from the process's cache; any change renders it anew; and a
request that finds no free database connection gets 503, never 500."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_physician, create_series
from tracker.app import create_app
from tracker.http.keys import DATABASE
from tracker.settings import Settings

FeedUrl = Callable[[TestClient, dict[str, str]], Awaitable[str]]

#: The other process's TRACKER_FEED_RECHECK_SECONDS in the cross-process test.
RECHECK = 2.0


async def _public(client: TestClient, auth: dict[str, str]) -> str:
    await create_series(client, auth)
    return "/calendar.ics"


async def _series(client: TestClient, auth: dict[str, str]) -> str:
    created = await create_series(client, auth)
    return f"/series/{created['slug']}.ics"


async def _personal(client: TestClient, auth: dict[str, str]) -> str:
    created = await create_series(client, auth)
    physician = await create_physician(client, auth)
    registered = await client.post(
        f"/api/series/{created['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    assert registered.status == 201
    return f"/feeds/{physician['token']}.ics"


FEEDS = pytest.mark.parametrize("feed", [_public, _series, _personal], ids=lambda f: f.__name__)


def _no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, loading or rendering a feed fails the request loudly."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the feed was loaded or rendered")

    monkeypatch.setattr("tracker.services.feeds.load_entries", refuse)
    monkeypatch.setattr("tracker.services.feeds.render_calendar", refuse)


@FEEDS
async def test_an_unchanged_feed_is_neither_loaded_nor_rendered_again(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch, feed: FeedUrl
) -> None:
    url = await feed(client, auth)
    first = await client.get(url)
    body, etag, modified = await first.read(), first.headers["ETag"], first.headers["Last-Modified"]
    _no_rendering(monkeypatch)

    by_etag = await client.get(url, headers={"If-None-Match": etag})
    by_date = await client.get(url, headers={"If-Modified-Since": modified})
    again = await client.get(url)

    assert (first.status, by_etag.status, by_date.status, again.status) == (200, 304, 304, 200)
    assert by_etag.headers["ETag"] == etag
    assert (await again.read(), again.headers["ETag"]) == (body, etag)


@FEEDS
async def test_another_process_answers_304_from_the_stored_version(
    client: TestClient,
    auth: dict[str, str],
    aiohttp_client: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    feed: FeedUrl,
) -> None:
    url = await feed(client, auth)
    etag = (await client.get(url)).headers["ETag"]
    other: TestClient = await aiohttp_client(create_app(settings))  # its own, empty cache
    _no_rendering(monkeypatch)

    answer = await other.get(url, headers={"If-None-Match": etag})

    assert (answer.status, answer.headers["ETag"]) == (304, etag)


@FEEDS
async def test_a_changed_series_renders_the_feed_anew(
    client: TestClient, auth: dict[str, str], feed: FeedUrl
) -> None:
    url = await feed(client, auth)
    before = await client.get(url)
    etag = before.headers["ETag"]
    # remembered now (TRACKER_FEED_RECHECK_SECONDS): a write here must make it read again
    assert (await client.get(url, headers={"If-None-Match": etag})).status == 304
    series = (await (await client.get("/api/series", headers=auth)).json())["items"][0]
    edited = await client.patch(
        f"/api/series/{series['id']}", json={"title": "Les lundis, saison 2"}, headers=auth
    )
    assert edited.status == 200

    after = await client.get(url, headers={"If-None-Match": etag})

    assert after.status == 200
    assert after.headers["ETag"] != etag
    assert "Les lundis\\, saison 2" in (await after.text())


@FEEDS
async def test_another_process_sees_a_change_within_its_recheck_seconds(
    client: TestClient,
    auth: dict[str, str],
    aiohttp_client: Any,
    settings: Settings,
    feed: FeedUrl,
) -> None:
    """A process answers from what it last read while it writes nothing itself, for at most
    TRACKER_FEED_RECHECK_SECONDS: a change committed by another process shows after those."""
    url = await feed(client, auth)
    other: TestClient = await aiohttp_client(
        # long enough for the edit below to land within it on a loaded CI machine (0.5 s was not)
        create_app(settings.model_copy(update={"feed_recheck_seconds": RECHECK}))
    )
    etag = (await other.get(url)).headers["ETag"]
    assert (await other.get(url, headers={"If-None-Match": etag})).status == 304
    series = (await (await client.get("/api/series", headers=auth)).json())["items"][0]
    edited = await client.patch(
        f"/api/series/{series['id']}", json={"title": "Les lundis, saison 2"}, headers=auth
    )
    assert edited.status == 200

    at_once = await other.get(url, headers={"If-None-Match": etag})
    await asyncio.sleep(RECHECK + 0.1)
    later = await other.get(url, headers={"If-None-Match": etag})

    assert at_once.status == 304  # what it read less than RECHECK seconds ago
    assert later.status == 200
    assert "Les lundis\\, saison 2" in await later.text()


@FEEDS
async def test_with_no_recheck_seconds_every_request_reads_the_database(
    client: TestClient,
    auth: dict[str, str],
    aiohttp_client: Any,
    settings: Settings,
    feed: FeedUrl,
) -> None:
    url = await feed(client, auth)
    other: TestClient = await aiohttp_client(
        create_app(settings.model_copy(update={"feed_recheck_seconds": 0}))
    )
    etag = (await other.get(url)).headers["ETag"]
    series = (await (await client.get("/api/series", headers=auth)).json())["items"][0]
    await client.patch(f"/api/series/{series['id']}", json={"title": "Saison 2"}, headers=auth)

    at_once = await other.get(url, headers={"If-None-Match": etag})

    assert at_once.status == 200
    assert at_once.headers["ETag"] != etag


async def test_a_renamed_physician_gets_a_new_personal_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    url = await _personal(client, auth)
    etag = (await client.get(url)).headers["ETag"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status == 304
    physician = (await (await client.get("/api/physicians", headers=auth)).json())["items"][0]
    await client.patch(
        f"/api/physicians/{physician['id']}", json={"last_name": "Durand-Martin"}, headers=auth
    )

    after = await client.get(url, headers={"If-None-Match": etag})

    assert after.status == 200
    assert "Durand-Martin" in await after.text()


@FEEDS
async def test_a_feed_request_that_finds_no_free_connection_gets_503(
    aiohttp_client: Any, settings: Settings, auth: dict[str, str], feed: FeedUrl
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(settings.model_copy(update={"database_pool_timeout": 0.5}))
    )
    url = await feed(client, auth)
    engine = client.app[DATABASE].engine
    pool = engine.pool
    held = []
    try:
        for _ in range(pool.size() + max(pool._max_overflow, 0)):
            held.append(await engine.connect())
        answer = await asyncio.wait_for(client.get(url), timeout=20)
        problem = await answer.json()
    finally:
        for connection in held:
            await connection.close()

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "5"
    assert problem["status"] == 503
