"""Tokens never reach the access log."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from tracker import logs
from tracker.adapters.zoom_webhook import sign
from tracker.app import create_app
from tracker.logs import (
    ACCESS_ROLLUP,
    RedactingAccessLogger,
    RollingUpAccessLogger,
    SecondFormatter,
    flush_access_rollup,
    redact,
)
from tracker.settings import Settings

SECRET = "zoom-secret-token"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/feeds/phy_s3cr3t.ics", "/feeds/…"),
        ("/feeds/cal_s3cr3t.ics", "/feeds/…"),
        ("/cal_s3cr3t", "/cal_…"),
        ("/me/occurrences/12.ics", "/me/occurrences/12.ics"),
        ("/me/phy_s3cr3t", "/me/…"),
        ("/unsubscribe/abc123", "/unsubscribe/…"),
        ("/claims/Xy3_kL9qRt2mNw8vB4cD1e", "/claims/…"),
        ("/registration/Xy3_kL9qRt2mNw8vB4cD1e", "/registration/…"),
        ("/claims/clm_s3cr3t", "/claims/…"),
        ("/claims/whatever", "/claims/…"),
        ("/me/certificates/12.pdf", "/me/certificates/12.pdf"),
        ("/me", "/me"),
        ("/api/series?from=2027", "/api/series"),
        ("/calendar.ics", "/calendar.ics"),
    ],
)
def test_secret_path_segments_are_masked(path: str, logged: str) -> None:
    assert redact(path) == logged


async def test_the_access_log_has_one_redacted_line_per_request(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def feed(_request: web.Request) -> web.Response:
        return web.Response(text="BEGIN:VCALENDAR")

    app = web.Application()
    app.router.add_get("/feeds/{token}", feed)
    server = await aiohttp_server(app, access_log_class=RedactingAccessLogger)
    caplog.set_level(logging.INFO, logger="aiohttp.access")

    url = server.make_url("/feeds/phy_s3cr3t.ics?token=abc")
    async with ClientSession() as http, http.get(url) as response:
        await response.read()

    (line,) = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert re.fullmatch(r'127\.0\.0\.1 "GET /feeds/…" 200 \d+ \d+\.\d{3}s', line), line


@pytest.fixture
async def zoom_client(
    aiohttp_server: Any,
    aiohttp_client: Any,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[TestClient]:
    """The service with its access log as ``tracker serve`` runs it by default (and its last
    count logged when it stops)."""
    ACCESS_ROLLUP.flush()  # nothing counted by an earlier test
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)}))
    app.on_cleanup.append(flush_access_rollup)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    server = await aiohttp_server(app, access_log_class=RollingUpAccessLogger)
    yield await aiohttp_client(server)


async def post_joins(client: TestClient, count: int, *, secret: str = SECRET) -> list[int]:
    statuses = []
    for n in range(count):
        body = json.dumps(
            {
                "event": "webinar.participant_joined",
                "event_ts": 1,
                "payload": {
                    "object": {
                        "id": "81234567890",
                        "uuid": "instance-1==",
                        "participant": {
                            "email": f"p{n}@example.org",
                            "participant_uuid": f"P{n}",
                            "join_time": "2026-11-02T11:25:00Z",
                        },
                    }
                },
            }
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(secret, timestamp, body),
            "Content-Type": "application/json",
        }
        async with client.post("/webhooks/zoom", data=body, headers=headers) as response:
            statuses.append(response.status)
    return statuses


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]


async def test_answered_zoom_webhooks_are_one_line_a_second_and_refused_ones_a_line_each(
    zoom_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """84,000 webhooks in a few minutes would be 84,000 lines reading the same: the answered
    ones are counted, the refused ones keep their own line (address, status, time)."""
    statuses = await post_joins(zoom_client, 3)
    statuses += await post_joins(zoom_client, 1, secret="not-the-secret")
    async with zoom_client.get("/healthz") as response:
        statuses.append(response.status)

    ACCESS_ROLLUP.flush()  # the end of the second

    assert statuses == [200, 200, 200, 401, 200]
    refused, health, rolled_up = access_lines(caplog)
    assert re.fullmatch(r'127\.0\.0\.1 "POST /webhooks/zoom" 401 \d+ \d+\.\d{3}s', refused)
    assert re.fullmatch(r'127\.0\.0\.1 "GET /healthz" 200 \d+ \d+\.\d{3}s', health)
    assert re.fullmatch(
        r"POST /webhooks/zoom: 3 answered 200 in the last second \(slowest \d+\.\d{3}s\)",
        rolled_up,
    )


async def test_the_count_is_logged_when_its_second_ends(
    zoom_client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "ROLLUP_SECONDS", 0.01)
    await post_joins(zoom_client, 2)
    counted = access_lines(caplog)

    await asyncio.sleep(0.05)  # the loop's timer: no flush called by hand

    assert counted == []
    assert [line.split(" (")[0] for line in access_lines(caplog)] == [
        "POST /webhooks/zoom: 2 answered 200 in the last second"
    ]


async def test_the_last_count_is_logged_when_the_service_stops(
    zoom_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    await post_joins(zoom_client, 2)

    await zoom_client.close()

    assert [line.split(" (")[0] for line in access_lines(caplog)] == [
        "POST /webhooks/zoom: 2 answered 200 in the last second"
    ]


async def test_per_request_keeps_a_line_for_every_answered_webhook(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """``TRACKER_ACCESS_LOG_WEBHOOKS=per-request`` (an operator who wants each webhook's
    address and time) is the plain redacting logger."""
    app = create_app(settings.model_copy(update={"zoom_webhook_secret": SecretStr(SECRET)}))
    server = await aiohttp_server(app, access_log_class=RedactingAccessLogger)
    caplog.set_level(logging.INFO, logger="aiohttp.access")

    await post_joins(await aiohttp_client(server), 2)

    lines = access_lines(caplog)
    assert len(lines) == 2
    assert all(
        re.fullmatch(r'127\.0\.0\.1 "POST /webhooks/zoom" 200 \d+ \d+\.\d{3}s', line)
        for line in lines
    ), lines


def test_the_time_of_a_line_is_the_standard_formatters() -> None:
    """The date and time are formatted once a second; each line still has its milliseconds."""
    standard = logging.Formatter("%(asctime)s %(message)s")
    ours = SecondFormatter("%(asctime)s %(message)s")
    records = [
        logging.LogRecord("x", logging.INFO, __file__, 1, "line", None, None) for _ in range(3)
    ]
    records[1].created += 0.25
    records[1].msecs = (records[1].created % 1) * 1000
    records[2].created += 3600.5
    records[2].msecs = (records[2].created % 1) * 1000

    assert [ours.format(r) for r in records] == [standard.format(r) for r in records]


def test_a_request_aiohttp_cannot_parse_is_one_warning_line_without_traceback() -> None:
    """A 20,000-byte URL is the client's mistake, answered 400: aiohttp's ERROR and traceback
    per request would let anyone fill the log."""
    from aiohttp.http_exceptions import BadStatusLine, LineTooLong

    from tracker.logs import quiet_client_mistakes

    records = []
    for error in (LineTooLong("/certificates/" + "A" * 20_000, "8190"), BadStatusLine("GARBAGE")):
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("203.0.113.9",),
            (type(error), error, None),
        )
        quiet_client_mistakes(record)
        records.append(record)
    unrelated = logging.LogRecord(
        "tracker.app", logging.ERROR, __file__, 1, "boom", None, (ValueError, ValueError(), None)
    )
    quiet_client_mistakes(unrelated)

    assert [(r.levelname, r.exc_info, len(r.getMessage()) < 250) for r in records] == [
        ("WARNING", None, True),
        ("WARNING", None, True),
    ]
    assert (
        records[0]
        .getMessage()
        .startswith(
            "Error handling request from 203.0.113.9: refused with 400: Got more than 8190 bytes"
        )
    )
    assert (unrelated.levelname, unrelated.exc_info is not None) == ("ERROR", True)
