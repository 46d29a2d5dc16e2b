"""Signing in and out of the pages: each function is one transaction.

The HTTP layer (``tracker.http.pages.sessions``) keeps the cookie; these functions return the
secret to put in it.
"""

from __future__ import annotations

from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain import physicians, web_sessions
from tracker.domain.models import Organizer, Physician, WebSession
from tracker.domain.organizers import organizer_for_token


async def sign_in(database: Database, subject: Physician | Organizer) -> str:
    """Open a session for a subject already identified; returns the cookie's secret."""
    async with database.session() as session:
        _, raw = await web_sessions.open_session(session, subject=subject, now=utcnow())
        await session.commit()
    return raw


async def sign_in_organizer(database: Database, token: str) -> str | None:
    """A session for the organiser holding ``token``; None when no organiser holds it."""
    async with database.session() as session:
        organizer = await organizer_for_token(session, token) if token else None
        if organizer is None:
            return None
        _, raw = await web_sessions.open_session(session, subject=organizer, now=utcnow())
        await session.commit()
    return raw


async def sign_in_physician(database: Database, token: str) -> str | None:
    """A session for the physician whose personal link holds ``token``; None when nobody's does."""
    async with database.session() as session:
        physician = await physicians.physician_for_token(session, token)
        if physician is None:
            return None
        _, raw = await web_sessions.open_session(session, subject=physician, now=utcnow())
        await session.commit()
    return raw


async def sign_out(database: Database, raw: str) -> None:
    async with database.session() as session:
        await web_sessions.close_session(session, raw)
        await session.commit()


async def rotate_token_here(
    database: Database, physician_id: int, raw: str | None
) -> tuple[str, str, str]:
    """A new personal token and feed key for the physician signed in with ``raw``: every session
    opened with the old token ends, and this browser gets a fresh one bound to the new token,
    in one transaction. Returns (new token, new feed key, the new session's secret)."""
    async with database.session() as session:
        rotated, token = await physicians.rotate_token(session, physician_id, now=utcnow())
        feed_key = rotated.feed_secret or ""
        if raw:
            await web_sessions.close_session(session, raw)
        _, new_raw = await web_sessions.open_session(session, subject=rotated, now=utcnow())
        await session.commit()
    return token, feed_key, new_raw


async def current_session(database: Database, raw: str | None, *, kind: str) -> WebSession | None:
    """The live session of ``kind`` whose secret is ``raw``: not expired, its token not
    rotated since; ``None`` otherwise."""
    if not raw:
        return None
    async with database.session() as session:
        return await web_sessions.live_session(session, raw, kind=kind, now=utcnow())


async def organizer_holding(database: Database, token: str) -> Organizer | None:
    """The organiser whose API bearer token this is, if any."""
    async with database.session() as session:
        return await organizer_for_token(session, token)


async def physician_holding(database: Database, token: str) -> Physician | None:
    """The physician whose personal token this is, if any."""
    async with database.session() as session:
        return await physicians.physician_for_token(session, token)


async def physician_session(
    database: Database, raw: str | None
) -> tuple[WebSession, Physician] | None:
    """The live physician session whose secret is ``raw``, with its physician."""
    if not raw:
        return None
    async with database.session() as session:
        row = await web_sessions.live_session(session, raw, kind="physician", now=utcnow())
        physician = await session.get(Physician, row.subject_id) if row else None
    return (row, physician) if row is not None and physician is not None else None
