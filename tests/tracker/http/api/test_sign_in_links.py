"""``POST /api/sign-in-links``: the same 202 for every address, a one-time link by real email,
used once behind a button, expiring after 30 minutes, rate-limited per address and client."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from schedules.clock import utcnow
from tests.factories import bearer, create_physician
from tests.smtp import SmtpServer
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.domain.tokens import hash_token
from tracker.http.background import BACKGROUND
from tracker.http.pages.sessions import COOKIE
from tracker.http.pages.sign_in import LINK_COOKIE
from tracker.http.ratelimit import SIGN_IN

LINK = re.compile(r"https://cme\.example\.org/me/sign-in/(sil_[A-Za-z0-9_-]+)")


async def ask(client: TestClient, email: str, **headers: str) -> Any:
    response = await client.post("/api/sign-in-links", json={"email": email}, headers=headers)
    await client.app[BACKGROUND].drain()
    return response


async def sign_in_rows(database: Database) -> list[OutboxMessage]:
    async with database.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == "sign-in")
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())


async def deliver(database: Database, smtp: SmtpServer) -> int:
    worker = DeliveryWorker(
        database.session, SmtpTransport(smtp.url), sender="webinars@localhost", rate_per_second=0
    )
    return await worker.run_once()


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None
    return found.group(1)


async def open_link(client: TestClient, code: str) -> tuple[int, str, str]:
    """GET the link like a browser: status, page, and the button form's token."""
    page = await client.get(f"/me/sign-in/{code}")
    html = await page.text()
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    return page.status, html, token.group(1) if token else ""


async def press(client: TestClient, code: str, token: str) -> Any:
    return await client.post(
        f"/me/sign-in/{code}",
        data={"csrf": token},
        headers={"Cookie": f"{LINK_COOKIE}={token}"},
        allow_redirects=False,
    )


async def test_known_and_unknown_addresses_get_the_same_answer(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_physician(client, auth)

    known = await ask(client, "Jeanne.Durand@example.org")
    unknown = await ask(client, "nobody@example.org")

    assert (known.status, unknown.status) == (202, 202)
    assert await known.json() == await unknown.json()
    assert [row.recipient for row in await sign_in_rows(database)] == ["jeanne.durand@example.org"]


async def test_the_emailed_link_signs_in_once_without_changing_the_token(
    client: TestClient, auth: dict[str, str], database: Database, smtp_server: SmtpServer
) -> None:
    physician = await create_physician(client, auth)
    await ask(client, "jeanne.durand@example.org")
    assert await deliver(database, smtp_server) == 1
    [message] = smtp_server.recorder.messages
    code = link_in(message)

    status, html, token = await open_link(client, code)
    first = await press(client, code, token)
    again = await press(client, code, token)
    me = await client.get("/me", headers={"Cookie": f"{COOKIE}={first.cookies[COOKIE].value}"})

    assert str(message["Subject"]) == "Votre lien de connexion"
    assert message.get_body(("html",)) is not None
    assert (status, 'action="/me/sign-in/' in html) == (200, True)
    assert (first.status, first.headers["Location"]) == (303, "/me")
    assert me.status == 200
    assert again.status == 404
    assert 'action="/sign-in"' in await again.text()
    assert (await client.get("/api/me", headers=bearer(physician["token"]))).status == 200
    async with database.session() as session:
        stored = await session.get_one(Physician, physician["id"])
    assert (stored.token_hash, stored.token_generation) == (hash_token(physician["token"]), 1)


async def test_opening_the_link_does_not_use_it(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """What a mail scanner does (GET, twice) leaves the link to the physician."""
    await create_physician(client, auth)
    code = await _code(client, database)

    await open_link(client, code)
    status, _, token = await open_link(client, code)

    assert status == 200
    assert (await press(client, code, token)).status == 303


async def test_two_clicks_at_once_open_one_session(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_physician(client, auth)
    code = await _code(client, database)
    _, _, token = await open_link(client, code)

    answers = await asyncio.gather(press(client, code, token), press(client, code, token))

    assert sorted(answer.status for answer in answers) == [303, 404]


async def test_an_expired_link_shows_the_form_to_ask_again(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_physician(client, auth)
    code = await _code(client, database)

    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        status, html, _ = await open_link(client, code)
        pressed = await press(client, code, "whatever")

    assert status == 404
    assert "Link expired or already used" in html or "Lien expiré" in html
    assert 'action="/sign-in"' in html
    assert pressed.status in (403, 404)


async def test_a_link_press_without_the_page_cookie_is_refused(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Another site cannot post someone's code from a victim's browser (login CSRF)."""
    await create_physician(client, auth)
    code = await _code(client, database)

    response = await client.post(
        f"/me/sign-in/{code}", data={"csrf": "forged"}, allow_redirects=False
    )

    assert response.status == 403
    assert (await open_link(client, code))[0] == 200  # still usable


async def test_an_address_gets_three_links_per_window_and_the_same_answer_after(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_physician(client, auth)

    answers = [await ask(client, "jeanne.durand@example.org") for _ in range(5)]

    assert [answer.status for answer in answers] == [202] * 5
    assert len({await answer.text() for answer in answers}) == 1
    assert len(await sign_in_rows(database)) == 3


async def test_a_client_asking_too_often_gets_429(client: TestClient) -> None:
    answers = [await ask(client, f"someone{n}@example.org") for n in range(SIGN_IN.limit + 1)]

    last = answers[-1]
    assert [answer.status for answer in answers[:-1]] == [202] * SIGN_IN.limit
    assert last.status == 429
    assert last.content_type == "application/problem+json"
    assert int(last.headers["Retry-After"]) > 0


async def test_not_one_valid_address_is_422(client: TestClient) -> None:
    for email in ("not an address", "a@example.org, b@example.org", ""):
        response = await client.post("/api/sign-in-links", json={"email": email})

        assert response.status == 422, email
        assert response.content_type == "application/problem+json"
        assert (await response.json())["errors"][0]["field"] == "email"


async def _code(client: TestClient, database: Database) -> str:
    """A link asked for through the API, read back from the queued email."""
    from tests.smtp import parse

    await ask(client, "jeanne.durand@example.org")
    [row] = await sign_in_rows(database)
    return link_in(parse(row.raw))


def test_a_sign_in_link_never_reaches_a_log_line() -> None:
    from tracker.domain.tokens import new_token
    from tracker.logs import redact_text

    code = new_token("sil_")

    assert code not in redact_text(f'"GET /me/sign-in/{code}?lang=fr HTTP/1.1" 200')
    assert code not in redact_text(f"queued sign-in link {code}")
