"""Browser sessions: a random cookie (HttpOnly, SameSite=Lax, Secure over https) whose hash
names a row holding who is signed in and the CSRF token of their forms."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.models import WebSession
from tracker.tokens import hash_token

COOKIE = "tracker_session"
LIFETIME = timedelta(days=30)


async def start(
    session: AsyncSession,
    response: web.StreamResponse,
    *,
    kind: str,
    subject_id: int,
    now: datetime,
    secure: bool,
) -> WebSession:
    raw = secrets.token_urlsafe(32)
    row = WebSession(
        id_hash=hash_token(raw),
        kind=kind,
        subject_id=subject_id,
        csrf=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    await session.commit()
    response.set_cookie(
        COOKIE,
        raw,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/",
    )
    return row


async def current(
    session: AsyncSession, request: web.Request, *, kind: str, now: datetime
) -> WebSession | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    row = await session.get(WebSession, hash_token(raw))
    if row is None or row.kind != kind or row.expires_at <= now:
        return None
    return row


async def end(session: AsyncSession, request: web.Request, response: web.StreamResponse) -> None:
    raw = request.cookies.get(COOKIE)
    if raw:
        await session.exec(delete(WebSession).where(WebSession.id_hash == hash_token(raw)))  # type: ignore[arg-type]
        await session.commit()
    response.del_cookie(COOKIE, path="/")


def csrf_ok(row: WebSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(row.csrf, submitted or "")
