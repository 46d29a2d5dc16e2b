"""Physicians: records, personal tokens (hash only), lookups by token and by email."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import InvalidAddressError, normalise_address
from schedules.errors import InvalidInputError, NotFoundError
from tracker.domain.models import Physician
from tracker.domain.schemas import PhysicianCreate, PhysicianUpdate
from tracker.domain.tokens import hash_token, new_token
from tracker.errors import EmailTakenError

NULLABLE = frozenset({"npi", "rpps", "birth_month", "birth_day", "license_state", "license_number"})


def email_key(text: str) -> str:
    """How an address is stored and looked up: normalised as on input when it is one valid
    address (so ``Chloé.Simon@EXAMPLE.org`` finds ``chloé.simon@example.org``), else simply
    trimmed and lower-cased (a search for something odd then finds nothing)."""
    try:
        return normalise_address(text, anywhere=True)
    except InvalidAddressError:
        return text.strip().lower()


async def _email_taken(session: AsyncSession, email: str, *, other_than: int | None = None) -> bool:
    query = select(Physician.id).where(Physician.email == email_key(email))
    if other_than is not None:
        query = query.where(Physician.id != other_than)
    return (await session.exec(query)).first() is not None


async def create_physician(
    session: AsyncSession, data: PhysicianCreate, *, now: datetime
) -> tuple[Physician, str]:
    """Store a physician; returns it with the personal token, which is never shown again."""
    email = email_key(data.email)
    if await _email_taken(session, email):
        raise EmailTakenError(email)
    token = new_token("phy_")
    physician = Physician(
        **data.model_dump(exclude={"email"}),
        email=email,
        token_hash=hash_token(token),
        created_at=now,
        updated_at=now,
    )
    session.add(physician)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request took the email first
        await session.rollback()
        raise EmailTakenError(email) from None
    return physician, token


async def update_physician(
    session: AsyncSession, physician_id: int, data: PhysicianUpdate, *, now: datetime
) -> Physician:
    physician = await get_physician(session, physician_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise InvalidInputError(field, "cannot be null")
    if "email" in changes:
        changes["email"] = email_key(changes["email"])
        if await _email_taken(session, changes["email"], other_than=physician_id):
            raise EmailTakenError(changes["email"])
    for field, value in changes.items():
        setattr(physician, field, value)
    physician.updated_at = now
    await session.flush()
    return physician


async def rotate_token(
    session: AsyncSession, physician_id: int, *, now: datetime
) -> tuple[Physician, str]:
    """Replace the token: the old one (and every URL holding it) stops working at once."""
    physician = await get_physician(session, physician_id)
    token = new_token("phy_")
    physician.token_hash = hash_token(token)
    physician.updated_at = now
    await session.flush()
    return physician, token


async def get_physician(session: AsyncSession, physician_id: int) -> Physician:
    physician = await session.get(Physician, physician_id)
    if physician is None:
        raise NotFoundError("physician", physician_id)
    return physician


async def physician_for_token(session: AsyncSession, token: str) -> Physician | None:
    query = select(Physician).where(Physician.token_hash == hash_token(token))
    return (await session.exec(query)).first()


async def physician_by_email(session: AsyncSession, email: str) -> Physician | None:
    return (
        await session.exec(select(Physician).where(Physician.email == email_key(email)))
    ).first()
