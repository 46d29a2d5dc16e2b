"""One-time sign-in links sent by email: a random code (256 bits, ``sil_…``) whose SHA-256 names
a row, valid :data:`LIFETIME`, used once.

Using a link is one ``UPDATE … SET used_at WHERE code_hash = … AND used_at IS NULL AND
expires_at > now``: of two clicks at the same moment (two tabs, a mail scanner and the
physician), the database lets exactly one change the row, and only that one opens a session.
The personal token is never touched: a session opened by a link is bound to the current token,
like one opened by the personal link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import Physician, SignInLink
from tracker.domain.tokens import hash_token, new_token

LIFETIME = timedelta(minutes=30)
#: Links one address may be sent within :data:`ADDRESS_WINDOW`; past it, asking again sends
#: nothing (and answers the same).
ADDRESS_LIMIT = 3
ADDRESS_WINDOW = timedelta(minutes=15)


async def create_link(
    session: AsyncSession, physician: Physician, *, now: datetime
) -> tuple[SignInLink, str]:
    """A new link for ``physician``: the row (flushed) and the code, which only the email holds.
    The physician's links expired for a day go (nothing reads them any more)."""
    await session.exec(
        delete(SignInLink).where(
            col(SignInLink.physician_id) == physician.id,
            col(SignInLink.expires_at) < now - timedelta(days=1),
        )
    )
    code = new_token("sil_")
    link = SignInLink(
        code_hash=hash_token(code),
        physician_id=physician.id or 0,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(link)
    await session.flush()
    return link, code


async def links_sent_since(session: AsyncSession, physician_id: int, since: datetime) -> int:
    query = select(func.count()).where(
        col(SignInLink.physician_id) == physician_id, col(SignInLink.created_at) > since
    )
    return int((await session.exec(query)).one())


async def usable(session: AsyncSession, code: str, *, now: datetime) -> bool:
    """Whether ``code`` names a link not used yet and not expired (it is not used by asking)."""
    query = select(SignInLink.id).where(
        col(SignInLink.code_hash) == hash_token(code),
        col(SignInLink.used_at).is_(None),
        col(SignInLink.expires_at) > now,
    )
    return (await session.exec(query)).first() is not None


async def use_link(session: AsyncSession, code: str, *, now: datetime) -> Physician | None:
    """Consume the link ``code`` names and return its physician; ``None`` when it is unknown,
    expired or used (by this call's competitor too). Flushes; the caller commits."""
    result = await session.exec(
        update(SignInLink)
        .where(
            col(SignInLink.code_hash) == hash_token(code),
            col(SignInLink.used_at).is_(None),
            col(SignInLink.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(SignInLink.physician_id))
    )
    physician_id = result.scalar_one_or_none()
    if physician_id is None:
        return None
    return await session.get(Physician, physician_id)
