"""Credentials: sessions end with their token, the login form resists CSRF, no token reaches a
log, repeated failed credentials are slowed down on every door, certificate codes are unguessable.

Each test goes through the real app (HTTP via aiohttp's test client, or ``tracker serve``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import bearer, create_physician
from tests.processes import TRACKER, environment
from tests.smtp import free_port
from tests.tracker.security_world import (
    BASE,
    LOGIN_COOKIE,
    SESSION,
    build_world,
    certificate_codes,
    cookie_value,
    hidden_csrf,
    physician_session,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Certificate
from tracker.http.ratelimit import FailureLimiter
from tracker.logs import redact_text
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

FORGED_ORG = "org_" + "A1b2C3d4" * 5 + "xyz"
FORGED_PHY = "phy_" + "Z9y8X7w6" * 5 + "abc"


# 16. Rotating a token ends the browser sessions it opened ---------------------------------------


async def test_rotating_a_token_through_the_organiser_api_ends_that_physicians_sessions(
    client: TestClient, auth: dict[str, str]
) -> None:
    physician = await create_physician(client, auth)
    cookie, _ = await physician_session(client, physician["token"])
    before = await client.get("/me", headers={"Cookie": cookie})

    rotated = await client.post(f"/api/physicians/{physician['id']}/token", headers=auth)
    after = await client.get("/me", headers={"Cookie": cookie})

    assert (before.status, rotated.status, after.status) == (200, 200, 401)


async def test_rotating_my_token_through_the_api_ends_my_browser_sessions(
    client: TestClient, auth: dict[str, str]
) -> None:
    physician = await create_physician(client, auth)
    cookie, _ = await physician_session(client, physician["token"])

    rotated = await client.post("/api/me/token", headers=bearer(physician["token"]))
    after = await client.get("/me", headers={"Cookie": cookie})
    new_link = await client.get(f"/me/{(await rotated.json())['token']}", allow_redirects=False)

    assert (rotated.status, after.status, new_link.status) == (200, 401, 303)


async def test_rotating_on_the_page_signs_out_every_other_browser_and_keeps_this_one(
    client: TestClient, auth: dict[str, str]
) -> None:
    physician = await create_physician(client, auth)
    laptop, csrf = await physician_session(client, physician["token"])
    stolen, _ = await physician_session(client, physician["token"])

    rotated = await client.post("/me/token", data={"csrf": csrf}, headers={"Cookie": laptop})
    fresh = f"{SESSION}={cookie_value(rotated, SESSION)}"
    statuses = [
        (await client.get("/me", headers={"Cookie": cookie})).status
        for cookie in (stolen, laptop, fresh)
    ]

    assert rotated.status == 200
    assert statuses == [401, 401, 200]


# 17. Login CSRF ---------------------------------------------------------------------------------


async def test_login_posted_from_another_site_without_the_forms_token_is_refused(
    client: TestClient, organizer_token: str
) -> None:
    response = await client.post(
        "/organizer/login",
        data={"token": organizer_token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )

    assert response.status == 403
    assert cookie_value(response, SESSION) == ""
    assert response.content_type == "text/html"


async def test_login_without_the_forms_token_is_refused_even_without_an_origin(
    client: TestClient, organizer_token: str
) -> None:
    response = await client.post(
        "/organizer/login", data={"token": organizer_token}, allow_redirects=False
    )

    assert response.status == 403
    assert cookie_value(response, SESSION) == ""


async def test_login_with_the_forms_token_but_another_origin_is_refused(
    client: TestClient, organizer_token: str
) -> None:
    form = await client.get("/organizer/login")
    login_cookie = cookie_value(form, LOGIN_COOKIE)

    response = await client.post(
        "/organizer/login",
        data={"token": organizer_token, "csrf": hidden_csrf(await form.text())},
        headers={
            "Cookie": f"{LOGIN_COOKIE}={login_cookie}",
            "Referer": "https://evil.example/attack.html",
        },
        allow_redirects=False,
    )

    assert login_cookie != ""
    assert response.status == 403
    assert cookie_value(response, SESSION) == ""


async def test_login_with_a_token_that_does_not_match_the_cookie_is_refused(
    client: TestClient, organizer_token: str
) -> None:
    form = await client.get("/organizer/login")

    response = await client.post(
        "/organizer/login",
        data={"token": organizer_token, "csrf": hidden_csrf(await form.text())},
        headers={"Cookie": f"{LOGIN_COOKIE}=attacker-chosen-value", "Origin": BASE},
        allow_redirects=False,
    )

    assert response.status == 403


@pytest.mark.parametrize("origin_header", [{"Origin": BASE}, {"Referer": f"{BASE}/x"}, {}])
async def test_login_form_signs_in_with_its_own_token(
    client: TestClient, organizer_token: str, origin_header: dict[str, str]
) -> None:
    form = await client.get("/organizer/login")
    login_cookie = cookie_value(form, LOGIN_COOKIE)

    response = await client.post(
        "/organizer/login",
        data={"token": organizer_token, "csrf": hidden_csrf(await form.text())},
        headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie}", **origin_header},
        allow_redirects=False,
    )
    home = await client.get(
        "/organizer", headers={"Cookie": f"{SESSION}={cookie_value(response, SESSION)}"}
    )

    assert (response.status, response.headers["Location"], home.status) == (303, "/organizer", 200)


# 18. No token reaches a log ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /feeds/phy_Abc123_-xyz.ics 500", "phy_Abc123_-xyz"),
        ("unhandled error on GET /me/phy_Abc123", "phy_Abc123"),
        ("POST /unsubscribe/kD9s-fj3KsL1mQ", "kD9s-fj3KsL1mQ"),
        ("b'Authorization Bearer org_Q1w2E3r4'", "org_Q1w2E3r4"),
        ("authorization: bearer weird\\x01token'", "weird\\x01token"),
        ("token=phy_abcdefgh&x=1", "phy_abcdefgh"),
        ("Cookie: tracker_session=s3cr3t-Value", "s3cr3t-Value"),
        ("a future kind: abc_" + "Zz9" * 12, "Zz9" * 12),
        ("bare: " + "kQ8r" * 11, "kQ8r" * 11),
    ],
)
def test_every_token_format_is_redacted(line: str, secret: str) -> None:
    assert secret not in redact_text(line)


@pytest.mark.parametrize(
    "line",
    [
        "GET /me/certificates/12.pdf 200",
        "GET /calendar.ics 200",
        "GET /api/me/credits 200",
        "database unreachable on GET /feeds/{token}.ics: OperationalError: unable to open",
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: physician",
        "test_secret_path_segments_are_masked_in_the_access_log",
        "sha256 " + "ab12" * 16,
    ],
)
def test_lines_without_tokens_are_left_alone(line: str) -> None:
    assert redact_text(line) == line


async def test_a_failure_on_the_personal_feed_logs_no_token(
    client: TestClient,
    auth: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    physician = await create_physician(client, auth)
    token = physician["token"]

    async def broken(*_: Any, **__: Any) -> Any:
        # Fault injection: a library that fails while echoing its input, as some do.
        raise RuntimeError(f"cannot load entries for /feeds/{token}.ics")

    monkeypatch.setattr("tracker.services.feeds.load_entries", broken)
    caplog.set_level(logging.DEBUG)

    response = await client.get(f"/feeds/{token}.ics")

    assert response.status == 500
    assert "unhandled error on GET /feeds/" in caplog.text
    assert "RuntimeError" in caplog.text
    assert token not in caplog.text
    assert token[4:20] not in caplog.text


def _raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    """The status of one GET, redirects not followed."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_logs_no_token_from_requests_or_malformed_header_lines(
    database_url: str, tmp_path: Path
) -> None:
    async def make_organizer() -> str:
        database = Database(database_url)
        try:
            _, token = await create_organizer(database, name="C", email="c@example.org")
        finally:
            await database.close()
        return token

    organizer = asyncio.run(make_organizer())
    port = free_port()
    process = subprocess.Popen(
        [TRACKER, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment(database_url=database_url, scheduler="off"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # up to a minute: a loaded CI machine starts Python slowly
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.1)
        created = urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}/api/physicians",
                data=b'{"first_name":"J","last_name":"D","email":"j@example.org"}',
                headers={
                    "Authorization": f"Bearer {organizer}",
                    "Content-Type": "application/json",
                },
            ),
            timeout=5,
        )
        token = re.search(r'"token":\s*"([^"]+)"', created.read().decode())
        assert token is not None
        physician = token.group(1)
        answers = [
            _get(port, f"/feeds/{physician}.ics"),
            _get(port, f"/me/{physician}"),
            _get(port, "/api/me", {"Authorization": f"Bearer {physician}"}),
            _get(port, f"/unsubscribe/{physician}"),
        ]
        for line in (
            f"Authorization Bearer {organizer}",
            f"Authorization: Bearer {physician}\x01",
            f"X-Token {physician}",
        ):
            _raw_request(port, f"GET / HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n".encode())
        _raw_request(port, f"GET /feeds/{physician}\x01.ics HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)

    logs = stdout + stderr
    assert answers == [200, 303, 200, 404]
    assert "Invalid header" in logs  # the malformed lines were logged, redacted
    assert "GET /feeds/" in logs
    for secret in (organizer, physician):
        assert secret not in logs
        assert secret[4:24] not in logs


# 19. Rate limiting of failed credentials -------------------------------------------------------

Door = Callable[[TestClient, str], Awaitable[Any]]


async def _login(client: TestClient, token: str) -> Any:
    form = await client.get("/organizer/login")
    return await client.post(
        "/organizer/login",
        data={"token": token, "csrf": hidden_csrf(await form.text())},
        headers={"Cookie": f"{LOGIN_COOKIE}={cookie_value(form, LOGIN_COOKIE)}"},
        allow_redirects=False,
    )


DOORS: dict[str, tuple[Door, str]] = {
    "organiser bearer": (lambda c, t: c.get("/api/series", headers=bearer(t)), FORGED_ORG),
    "physician bearer": (lambda c, t: c.get("/api/me", headers=bearer(t)), FORGED_PHY),
    "personal link": (lambda c, t: c.get(f"/me/{t}", allow_redirects=False), FORGED_PHY),
    "personal feed": (lambda c, t: c.get(f"/feeds/{t}.ics"), FORGED_PHY),
    "organiser login form": (_login, FORGED_ORG),
    "unsubscribe page": (lambda c, t: c.get(f"/unsubscribe/{t}"), "kD9sfj3KsL1mQ0aa"),
    "one-click unsubscribe": (lambda c, t: c.post(f"/unsubscribe/{t}"), "kD9sfj3KsL1mQ0aa"),
    "claim link": (lambda c, t: c.get(f"/claims/{t}"), "clm_" + "kD9sfj3KsL1mQ0aa" * 3),
    "claim form": (
        lambda c, t: c.post(f"/claims/{t}", data={"minutes": "60"}),
        "clm_" + "kD9sfj3KsL1mQ0aa" * 3,
    ),
    "certificate verification": (
        lambda c, t: c.get(f"/certificates/{t}", headers={"Accept": "application/json"}),
        "ABCDEFG-HIJKLMN-OPQRSTU-VWXYZ23",
    ),
}


@pytest.mark.parametrize("door", list(DOORS))
async def test_repeated_failed_credentials_get_429_with_retry_after(
    client: TestClient, settings: Settings, door: str
) -> None:
    knock, forged = DOORS[door]

    statuses = [(await knock(client, forged)).status for _ in range(settings.auth_failure_limit)]
    refused = await knock(client, forged)

    assert 429 not in statuses
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= settings.auth_failure_window_seconds


async def test_a_blocked_client_is_refused_even_with_a_right_credential_and_only_on_that_door(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    physician = await create_physician(client, auth)
    for _ in range(settings.auth_failure_limit):
        await client.get("/api/me", headers=bearer(FORGED_PHY))

    right_token_same_door = await client.get("/api/me", headers=bearer(physician["token"]))
    other_door = await client.get(f"/feeds/{physician['token']}.ics")
    organiser = await client.get("/api/series", headers=auth)

    assert right_token_same_door.status == 429
    assert (other_door.status, organiser.status) == (200, 200)


async def test_the_block_lifts_when_the_window_has_passed(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    physician = await create_physician(client, auth)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(settings.auth_failure_limit):
            await client.get(f"/feeds/{FORGED_PHY}.ics")
        blocked = await client.get(f"/feeds/{physician['token']}.ics")
    later = start + timedelta(seconds=settings.auth_failure_window_seconds + 1)
    with time_machine.travel(later, tick=False):
        lifted = await client.get(f"/feeds/{physician['token']}.ics")

    assert (blocked.status, lifted.status) == (429, 200)


async def test_successful_requests_are_never_slowed(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    physician = await create_physician(client, auth)
    requests = 5 * settings.auth_failure_limit

    statuses = {(await client.get("/api/series", headers=auth)).status for _ in range(requests)}
    statuses |= {
        (await client.get(f"/feeds/{physician['token']}.ics")).status for _ in range(requests)
    }
    statuses |= {
        (await client.get("/api/me", headers=bearer(physician["token"]))).status
        for _ in range(requests)
    }

    assert statuses == {200}


async def test_a_missing_credential_is_not_counted_as_a_guess(
    client: TestClient, auth: dict[str, str], settings: Settings
) -> None:
    for _ in range(2 * settings.auth_failure_limit):
        await client.get("/api/series")

    response = await client.get("/api/series", headers=auth)

    assert response.status == 200


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.1"}))
    )
    attacker, neighbour = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    for _ in range(settings.auth_failure_limit):
        await client.get(f"/feeds/{FORGED_PHY}.ics", headers=attacker)

    blocked = await client.get(f"/feeds/{FORGED_PHY}.ics", headers=attacker)
    other = await client.get(f"/feeds/{FORGED_PHY}.ics", headers=neighbour)

    assert (blocked.status, other.status) == (429, 404)


async def test_behind_a_trusted_proxy_hops_written_by_the_client_are_not_believed(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.1, 198.51.100.0/24"}))
    )
    for n in range(settings.auth_failure_limit):
        # The client forges a left-most hop; the proxies append the real address, then their own.
        forwarded = {"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.7, 198.51.100.2"}
        await client.get(f"/feeds/{FORGED_PHY}.ics", headers=forwarded)

    response = await client.get(
        f"/feeds/{FORGED_PHY}.ics", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
    )

    assert response.status == 429


async def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_limit(
    client: TestClient, settings: Settings
) -> None:
    for n in range(settings.auth_failure_limit):
        await client.get(f"/feeds/{FORGED_PHY}.ics", headers={"X-Forwarded-For": f"10.0.0.{n}"})

    response = await client.get(f"/feeds/{FORGED_PHY}.ics", headers={"X-Forwarded-For": "10.9.9.9"})

    assert response.status == 429


def test_the_limiter_forgets_old_failures_and_bounds_its_memory() -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0], max_clients=100)
    for _ in range(3):
        limiter.failed("feed", "198.51.100.1")
    blocked = limiter.retry_after("feed", "198.51.100.1")
    for n in range(1000):
        limiter.failed("feed", f"10.0.{n // 256}.{n % 256}")
    now[0] += 61

    assert blocked == 60
    assert limiter.retry_after("feed", "198.51.100.1") is None
    assert len(limiter) <= 100


async def test_new_certificate_codes_carry_at_least_128_random_bits(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    await build_world(client, auth, database, scheduler)

    (code,) = await certificate_codes(database)
    symbols = code.replace("-", "")

    assert set(symbols) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(symbols) * 5 >= 128


async def test_certificate_codes_of_the_old_format_keep_verifying(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await build_world(client, auth, database, scheduler)
    async with database.session() as session:
        certificate = Certificate(
            code="ABCD-EF01-2345",
            occurrence_id=world.past_occurrence_id,
            physician_id=world.paul.id,
            minutes=45,
            credits={"AMA_PRA_1": 0.75},
        )
        session.add(certificate)
        await session.commit()

    response = await client.get(
        "/certificates/abcd-ef01-2345", headers={"Accept": "application/json"}
    )

    assert response.status == 200
    assert (await response.json())["valid"] is True


async def test_login_with_origin_null_is_decided_by_the_forms_token(
    client: TestClient, organizer_token: str
) -> None:
    form = await client.get("/organizer/login")
    cookie = {"Cookie": f"{LOGIN_COOKIE}={cookie_value(form, LOGIN_COOKIE)}", "Origin": "null"}

    forged = await client.post(
        "/organizer/login",
        data={"token": organizer_token, "csrf": "guessed"},
        headers=cookie,
        allow_redirects=False,
    )
    ours = await client.post(
        "/organizer/login",
        data={"token": organizer_token, "csrf": hidden_csrf(await form.text())},
        headers=cookie,
        allow_redirects=False,
    )

    assert (forged.status, ours.status) == (403, 303)
