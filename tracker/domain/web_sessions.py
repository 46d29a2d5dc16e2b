"""Signed-in browsers: a random secret (the cookie) whose hash names a row holding who is signed
in and the CSRF token of their forms.

A session is bound to the token that opened it (the row keeps the token's hash): rotating the
token ends every session it opened, on every browser, without a list of sessions to revoke.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import Organizer, Physician, WebSession
from tracker.domain.tokens import hash_token

LIFETIME = timedelta(days=30)


async def open_session(
    session: AsyncSession, *, subject: Physician | Organizer, now: datetime
) -> tuple[WebSession, str]:
    """Add a session for ``subject``, bound to its current token (flushed, not committed);
    returns the row and the secret the browser keeps."""
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
    await session.flush()
    return row, raw


async def live_session(
    session: AsyncSession, raw: str, *, kind: str, now: datetime
) -> WebSession | None:
    """The live session of ``kind`` the secret ``raw`` names: not expired, its token not
    rotated since."""
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


async def close_session(session: AsyncSession, raw: str) -> None:
    """Remove the session the secret ``raw`` names (flushed, not committed)."""
    await session.exec(delete(WebSession).where(WebSession.id_hash == hash_token(raw)))  # type: ignore[arg-type]
