"""Tokens never reach the access log."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp import ClientSession, web

from tracker.logs import RedactingAccessLogger, SecondFormatter, redact


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
