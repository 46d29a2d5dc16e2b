"""The Zoom API client against the local fake: OAuth token cached and renewed, backoff that
honours Retry-After, pagination to the last page, and instance UUIDs encoded as Zoom wants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.zoom_fake import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, loopback_only
from tracker.errors import ZoomAPIError
from tracker.zoom.client import Registrant, ZoomClient, forget_tokens, instance_path

__all__ = ["loopback_only"]


@pytest.fixture
async def fake(
    aiohttp_server: Any, loopback_only: list[Any]
) -> AsyncIterator[tuple[FakeZoom, TestServer]]:
    forget_tokens()
    zoom = FakeZoom()
    server = await aiohttp_server(zoom.app())
    yield zoom, server
    forget_tokens()


def client_of(server: TestServer, waits: list[float] | None = None, **options: Any) -> ZoomClient:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return ZoomClient(
        account_id=ACCOUNT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        api_url=str(server.make_url("/v2")),
        oauth_url=str(server.make_url("/oauth/token")),
        sleep=sleep,
        **options,
    )


def rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"u{i}",
            "user_id": str(16778240 + i),
            "name": f"Participant {i}",
            "user_email": "",
            "join_time": "2027-03-01T11:30:00Z",
            "leave_time": "2027-03-01T12:30:00Z",
            "duration": 3600,
        }
        for i in range(count)
    ]


async def test_token_is_asked_once_and_shared_by_clients_of_the_process(fake: Any) -> None:
    zoom, server = fake
    zoom.instances["81234567890"] = [("abc==", "2027-03-01T11:30:00Z")]
    async with client_of(server) as first, client_of(server) as second:
        await first.past_instances("81234567890")
        await second.past_instances("81234567890")
        await first.past_instances("81234567890")

    assert zoom.tokens_issued == 1
    oauth = [s for s in zoom.seen if s.raw_path == "/oauth/token"]
    assert [(s.method, s.query) for s in oauth] == [
        ("POST", {"grant_type": "account_credentials", "account_id": ACCOUNT})
    ]
    assert {s.authorization for s in zoom.seen if s.raw_path != "/oauth/token"} == {
        "Bearer token-1"
    }


async def test_an_expired_token_is_renewed_on_401_and_the_call_goes_through(fake: Any) -> None:
    zoom, server = fake
    zoom.instances["81234567890"] = [("abc==", "2027-03-01T11:30:00Z")]
    async with client_of(server) as client:
        await client.past_instances("81234567890")
        zoom.expire_tokens()
        instances = await client.past_instances("81234567890")

    assert [i.uuid for i in instances] == ["abc=="]
    assert zoom.tokens_issued == 2
    assert [s.authorization for s in zoom.seen if "instances" in s.raw_path] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_429_waits_as_long_as_retry_after_says_then_succeeds(fake: Any) -> None:
    zoom, server = fake
    zoom.instances["81234567890"] = []
    zoom.failures["past_instances"] = [(429, "7"), (503, None), (502, None)]
    waits: list[float] = []
    async with client_of(server, waits) as client:
        assert await client.past_instances("81234567890") == []

    assert waits == [7.0, 2.0, 4.0]  # Retry-After, then 2 ** attempt without one


async def test_attempts_are_bounded_and_the_failure_says_what_zoom_answered(fake: Any) -> None:
    zoom, server = fake
    zoom.failures["past_instances"] = [(500, None)] * 10
    async with client_of(server, [], attempts=3) as client:
        with pytest.raises(ZoomAPIError) as raised:
            await client.past_instances("81234567890")

    assert str(raised.value) == (
        "Zoom answered 500 Internal error to GET /past_webinars/81234567890/instances (3 attempts)"
    )
    assert len([s for s in zoom.seen if "instances" in s.raw_path]) == 3


async def test_a_retry_after_beyond_the_longest_wait_fails_at_once(fake: Any) -> None:
    zoom, server = fake
    zoom.failures["past_instances"] = [(429, "86400")]
    waits: list[float] = []
    async with client_of(server, waits) as client:
        with pytest.raises(ZoomAPIError, match="asks to wait 86400 s"):
            await client.past_instances("81234567890")
    assert waits == []


async def test_a_4xx_is_not_retried(fake: Any) -> None:
    zoom, server = fake
    async with client_of(server, []) as client:
        with pytest.raises(ZoomAPIError, match=r"404 Webinar does not exist"):
            await client.past_instances("999")
    assert len([s for s in zoom.seen if "instances" in s.raw_path]) == 1


async def test_participants_follow_next_page_token_to_the_last_page(fake: Any) -> None:
    zoom, server = fake
    zoom.reports["inst=="] = rows(700)
    async with client_of(server) as client:
        found = await client.participants("inst==")

    assert [r["id"] for r in found] == [f"u{i}" for i in range(700)]
    pages = [s.query for s in zoom.seen if "participants" in s.raw_path]
    assert pages == [
        {"page_size": "300"},
        {"page_size": "300", "next_page_token": "300"},
        {"page_size": "300", "next_page_token": "600"},
    ]


@pytest.mark.parametrize(
    ("uuid", "segment"),
    [
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("4444AAA//iiiEEE==", "4444AAA%252F%252FiiiEEE%253D%253D"),
        ("4444AAAiiiEEE+/x==", "4444AAAiiiEEE%2B%2Fx%3D%3D"),
    ],
)
async def test_instance_uuids_are_encoded_twice_when_zoom_says_so(
    fake: Any, uuid: str, segment: str
) -> None:
    zoom, server = fake
    zoom.reports[uuid] = rows(2)
    assert instance_path(uuid) == segment
    async with client_of(server) as client:
        assert len(await client.participants(uuid)) == 2
    assert [s.raw_path for s in zoom.seen if "participants" in s.raw_path] == [
        f"/v2/report/webinars/{segment}/participants"
    ]


async def test_batch_registrants_sends_auto_approve_and_reads_links(fake: Any) -> None:
    zoom, server = fake
    people = [Registrant(f"p{i}@example.org", "Jeanne", "Durand") for i in range(3)]
    async with client_of(server) as client:
        added = await client.add_registrants("81234567890", people)
        await client.cancel_registrants("81234567890", [(added[0].registrant_id, added[0].email)])

    assert [a.email for a in added] == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert all(a.join_url.startswith("https://zoom.us/w/81234567890?tk=") for a in added)
    posted = next(s for s in zoom.seen if s.raw_path.endswith("/batch_registrants"))
    assert posted.body["auto_approve"] is True
    assert posted.body["registrants"][0] == {
        "email": "p0@example.org",
        "first_name": "Jeanne",
        "last_name": "Durand",
    }
    put = next(s for s in zoom.seen if s.raw_path.endswith("/registrants/status"))
    assert put.method == "PUT"
    assert put.body == {
        "action": "cancel",
        "registrants": [{"id": added[0].registrant_id, "email": "p0@example.org"}],
    }
    assert zoom.registrants["81234567890"][added[0].registrant_id][1] == "cancelled"


async def test_wrong_credentials_give_one_line(fake: Any) -> None:
    _, server = fake
    client = ZoomClient(
        account_id=ACCOUNT,
        client_id=CLIENT_ID,
        client_secret="wrong",
        api_url=str(server.make_url("/v2")),
        oauth_url=str(server.make_url("/oauth/token")),
    )
    async with client:
        with pytest.raises(ZoomAPIError) as raised:
            await client.past_instances("81234567890")
    assert str(raised.value) == (
        "Zoom answered 400 Invalid client_id or client_secret to the OAuth token request"
    )
    assert "wrong" not in str(raised.value)


async def test_only_the_fake_was_reached(fake: Any, loopback_only: list[Any]) -> None:
    zoom, server = fake
    zoom.instances["1"] = []
    async with client_of(server) as client:
        await client.past_instances("1")
    assert loopback_only
    assert {address[0] for address in loopback_only} == {"127.0.0.1"}


def test_settings_take_all_three_credentials_or_none() -> None:
    from tracker.errors import ConfigError
    from tracker.settings import load_settings

    off = load_settings(_env_file=None)
    on = load_settings(
        _env_file=None,
        zoom_account_id=ACCOUNT,
        zoom_client_id=CLIENT_ID,
        zoom_client_secret=CLIENT_SECRET,
    )
    with pytest.raises(ConfigError) as partial:
        load_settings(_env_file=None, zoom_client_id=CLIENT_ID)
    with pytest.raises(ConfigError) as bad_url:
        load_settings(_env_file=None, zoom_api_url="api.zoom.us/v2")

    assert (off.zoom_enabled, on.zoom_enabled) == (False, True)
    assert on.zoom_api_url == "https://api.zoom.us/v2"
    assert on.zoom_oauth_url == "https://zoom.us/oauth/token"
    assert CLIENT_SECRET not in repr(on)
    assert str(partial.value) == (
        "configuration error: TRACKER_ZOOM_ACCOUNT_ID, TRACKER_ZOOM_CLIENT_ID and "
        "TRACKER_ZOOM_CLIENT_SECRET go together: set all three or none"
    )
    assert str(bad_url.value) == (
        "configuration error: TRACKER_ZOOM_API_URL: must be an absolute http(s) URL, got "
        "'api.zoom.us/v2'"
    )
