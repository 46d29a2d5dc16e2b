"""Helpers of the self-registration tests: an open series, a request, the link of an email."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from tests.factories import create_series
from tests.smtp import parse
from tracker.db import Database

LINK = re.compile(r"https://cme\.example\.org/registration/([A-Za-z0-9_\-]+)")


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Inès",
        "last_name": "Moreau",
        "email": "ines.moreau@example.org",
        "language": "fr",
        "timezone": "Europe/Paris",
        "consent_board_reporting": True,
    }
    body.update(overrides)
    return body


async def open_series(client: TestClient, auth: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return await create_series(client, auth, registration="open", **overrides)


async def ask(client: TestClient, series_id: int, **overrides: Any) -> int:
    """A request through the API; returns the status (the body is checked where it matters)."""
    response = await client.post(
        f"/api/series/{series_id}/self-registrations", json=request_body(**overrides)
    )
    return response.status


def code_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


async def queued(database: Database, kind: str) -> list[tuple[str, EmailMessage]]:
    """(key, message) of every outbox message of ``kind``, in the order they were queued."""
    async with database.session() as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == kind)
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    return [(row.key, parse(row.raw)) for row in rows]


async def confirm(client: TestClient, code: str) -> Any:
    return await client.post(f"/registration/{code}", allow_redirects=False)
