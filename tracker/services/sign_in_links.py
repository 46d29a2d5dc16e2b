"""Sign-in links by email: asking for one, and using one. Each function is one transaction.

Asking answers nothing about the address: the HTTP layer answers 202 before this runs (see
``tracker.http.api.sign_in``), and an unknown address costs the same work here (a code made and
hashed, the message composed, then dropped) so that even the database's load does not tell.
"""

from __future__ import annotations

import logging

from schedules.clock import utcnow
from tracker.domain import physicians, sign_in_links, web_sessions
from tracker.domain.mailings import enqueue_sign_in, sign_in_message
from tracker.domain.models import Physician
from tracker.domain.tokens import hash_token, new_token
from tracker.services.context import Services

log = logging.getLogger(__name__)
MINUTES = int(sign_in_links.LIFETIME.total_seconds() // 60)


async def request_link(services: Services, email: str) -> bool:
    """Email a one-time sign-in link to the physician holding ``email``, unless that address
    was sent :data:`~tracker.domain.sign_in_links.ADDRESS_LIMIT` links within the window.
    Returns whether a link was queued (for logs and tests; never shown to the asker)."""
    now = utcnow()
    async with services.database.session() as session:
        physician = await physicians.physician_by_email(session, email)
        if physician is None:
            _decoy(services)
            return False
        since = now - sign_in_links.ADDRESS_WINDOW
        sent = await sign_in_links.links_sent_since(session, physician.id or 0, since)
        if sent >= sign_in_links.ADDRESS_LIMIT:
            log.info("sign-in link not sent to physician %s: address limit", physician.id)
            return False
        link, code = await sign_in_links.create_link(session, physician, now=now)
        await enqueue_sign_in(
            session, services.mail, physician, link.id or 0, code, MINUTES, now=now
        )
        await session.commit()
    services.poke()
    return True


def _decoy(services: Services) -> None:
    """The work a known address costs, for an unknown one: a code, its hash, a message."""
    code = new_token("sil_")
    hash_token(code)
    stranger = Physician(
        first_name="-", last_name="-", email="nobody@example.org", token_hash="-", language="en"
    )
    sign_in_message(stranger, services.mail, code, MINUTES, now=utcnow())


async def sign_in_with_link(services: Services, code: str) -> str | None:
    """Use the link ``code`` names (once) and open a page session for its physician; returns
    the session's secret, or ``None`` when the link is unknown, expired or already used."""
    now = utcnow()
    async with services.database.session() as session:
        physician = await sign_in_links.use_link(session, code, now=now)
        if physician is None:
            await session.rollback()
            return None
        _, raw = await web_sessions.open_session(session, subject=physician, now=now)
        await session.commit()
    return raw


async def link_usable(services: Services, code: str) -> bool:
    """Whether the link ``code`` names would sign in now (a look that does not use it)."""
    async with services.database.session() as session:
        return await sign_in_links.usable(session, code, now=utcnow())
