"""Browser sessions: a random cookie (HttpOnly, SameSite=Lax, Secure over https) whose hash
names a row holding who is signed in and the CSRF token of their forms.

A session is bound to the token that opened it (the row keeps the token's hash): rotating the
token ends every session it opened, on every browser, without a list of sessions to revoke.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import Organizer, Physician, WebSession
from tracker.domain.tokens import hash_token

COOKIE = "tracker_session"
LIFETIME = timedelta(days=30)


async def start(
    session: AsyncSession,
    response: web.StreamResponse,
    *,
    subject: Physician | Organizer,
    now: datetime,
    secure: bool,
) -> WebSession:
    """Sign ``subject`` in on this browser, bound to its current token."""
    raw = secrets.token_urlsafe(32)
    row = WebSession(
        id_hash=hash_token(raw),
        kind="physician" if isinstance(subject, Physician) else "organizer",
        subject_id=subject.id or 0,
        credential_hash=subject.token_hash,
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
    """This browser's live session of ``kind``: not expired, its token not rotated since."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    row = await session.get(WebSession, hash_token(raw))
    if row is None or row.kind != kind or row.expires_at <= now:
        return None
    subject: Physician | Organizer | None = (
        await session.get(Physician, row.subject_id)
        if kind == "physician"
        else await session.get(Organizer, row.subject_id)
    )
    if subject is None or row.credential_hash is None:
        return None
    if not hmac.compare_digest(subject.token_hash, row.credential_hash):
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


# Before a session: the sign-in form's own CSRF token (double-submit cookie) -------------------

LOGIN_COOKIE = "tracker_login"
LOGIN_LIFETIME = timedelta(hours=2)


def login_csrf(request: web.Request) -> str:
    """The token the sign-in form carries; the same value rides in a cookie of this browser
    (:func:`set_login_csrf`).

    Another site can make a browser post the form, but can neither read this cookie nor set
    it, so it cannot send the matching value: no login CSRF (signing a victim into the
    attacker's account).
    """
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def set_login_csrf(response: web.StreamResponse, value: str, *, secure: bool) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/organizer/login",
    )


def login_csrf_ok(request: web.Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted or "")


def same_origin(request: web.Request, base_url: str) -> bool:
    """False when ``Origin`` (or, without it, ``Referer``) names another site than ours.

    Ours is the configured public URL or the address this request came to. ``Origin: null``
    says nothing (browsers send it for every form posted from a page with our
    ``Referrer-Policy: no-referrer``), and some privacy settings strip both headers: then the
    form's CSRF token alone decides.
    """
    claimed = request.headers.get("Origin", "null")
    if claimed == "null":
        claimed = request.headers.get("Referer", "")
    if not claimed:
        return True
    parts = urlsplit(claimed)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    base = urlsplit(base_url)
    ours = {f"{base.scheme}://{base.netloc}".lower(), f"{request.scheme}://{request.host}".lower()}
    return origin in ours
