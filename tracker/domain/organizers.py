"""Organisers and their bearer tokens."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import InvalidAddressError, normalise_address
from tracker.domain import limits
from tracker.domain.models import Organizer
from tracker.domain.tokens import hash_token, new_token
from tracker.errors import InvalidOrganizerError


async def add_organizer(session: AsyncSession, *, name: str, email: str) -> tuple[Organizer, str]:
    """Add a new organiser (flushed, not committed); returns it with its token, which is never
    shown again."""
    name = name.strip()
    if not name:
        raise InvalidOrganizerError("the name cannot be empty")
    if len(name) > limits.ORGANIZER_NAME:
        raise InvalidOrganizerError(f"the name is longer than {limits.ORGANIZER_NAME} characters")
    try:
        address = normalise_address(email)
    except InvalidAddressError as exc:
        raise InvalidOrganizerError(str(exc)) from None
    token = new_token("org_")
    organizer = Organizer(name=name, email=address, token_hash=hash_token(token))
    session.add(organizer)
    await session.flush()
    return organizer, token


async def organizer_for_token(session: AsyncSession, token: str) -> Organizer | None:
    query = select(Organizer).where(Organizer.token_hash == hash_token(token))
    return (await session.exec(query)).first()
