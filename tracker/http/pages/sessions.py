"""Browser sessions as HTTP sees them: the cookie (HttpOnly, SameSite=Lax, Secure over https)
holding the secret of a session row (``tracker.domain.web_sessions``), CSRF checks, and the
sign-in form's own CSRF cookie. Opening and closing sessions are services
(``tracker.services.web_sessions``)."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from tracker.domain.models import WebSession
from tracker.domain.web_sessions import LIFETIME
from tracker.http.keys import DATABASE, ORGANIZER_SESSION
from tracker.services import web_sessions

COOKIE = "tracker_session"


def set_cookie(response: web.StreamResponse, raw: str, *, secure: bool) -> None:
    """Give this browser the session whose secret is ``raw`` (from ``tracker.services.web_sessions``)."""
    response.set_cookie(
        COOKIE,
        raw,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/",
    )


def forget_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


def cookie_of(request: web.Request) -> str | None:
    return request.cookies.get(COOKIE) or None


async def current(request: web.Request, *, kind: str) -> WebSession | None:
    """This browser's live session of ``kind``: not expired, its token not rotated since. An
    organiser's is kept on the request, for the menu of whatever page it answers with."""
    row = await web_sessions.current_session(request.app[DATABASE], cookie_of(request), kind=kind)
    if row is not None and kind == "organizer":
        request[ORGANIZER_SESSION] = row
    return row


def organizer_csrf(request: web.Request) -> str | None:
    """The CSRF token of the organiser's session this request was checked against, if any:
    every organiser page's sign-out form posts it (the page's handler need not pass it)."""
    row = request.get(ORGANIZER_SESSION)
    return row.csrf if row is not None else None


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
