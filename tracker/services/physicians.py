"""The organiser's and the physician's use cases on physicians, their tokens and requirements.

Each function commits once. A new physician, or a changed address, may match attendance events
that arrived before them: those are matched after the commit and their awards recomputed.
"""

from __future__ import annotations

from schedules.clock import utcnow
from tracker.domain import awards, physicians, requirements
from tracker.domain.models import Physician
from tracker.domain.schemas import (
    CreditSummary,
    PhysicianCreate,
    PhysicianUpdate,
    RequirementCreate,
)
from tracker.services import ingestion
from tracker.services.context import Services


async def create_physician(services: Services, data: PhysicianCreate) -> tuple[Physician, str]:
    """Store a physician; returns them with their personal token, shown this once."""
    async with services.database.session() as session:
        physician, token = await physicians.create_physician(session, data, now=utcnow())
        await session.commit()
    await ingestion.match_later_events(services)
    return physician, token


async def update_physician(
    services: Services, physician_id: int, data: PhysicianUpdate
) -> Physician:
    async with services.database.session() as session:
        physician = await physicians.update_physician(session, physician_id, data, now=utcnow())
        await session.commit()
    if data.email is not None:
        await ingestion.match_later_events(services)
    return physician


async def rotate_token(services: Services, physician_id: int) -> tuple[str, str]:
    """A new personal token and feed key; the old ones, and every session opened with the old
    token, stop working. Returns (token, feed key)."""
    async with services.database.session() as session:
        physician, token = await physicians.rotate_token(session, physician_id, now=utcnow())
        feed_secret = physician.feed_secret or ""
        await session.commit()
    return token, feed_secret


async def prepare_page(services: Services, physician: Physician) -> str:
    """Before the physician's page is read: their pending awards settled (the page shows them
    as of now) and their read-only feed key, given one first if their row has none. Returns the
    feed key."""
    await ingestion.settle(services, physician_id=physician.id or 0)
    if physician.feed_secret is not None:
        return physician.feed_secret
    async with services.database.session() as session:
        secret = await physicians.ensure_feed_secret(session, physician.id or 0)
        await session.commit()
    return secret


async def credit_summary(services: Services, physician_id: int) -> CreditSummary:
    """The summary as of now (the physician's pending awards are recomputed first)."""
    await ingestion.settle(services, physician_id=physician_id)
    async with services.database.session() as session:
        return await awards.credit_summary(session, physician_id, now=utcnow())


async def add_requirement(
    services: Services, physician_id: int, data: RequirementCreate
) -> CreditSummary:
    async with services.database.session() as session:
        await requirements.add_requirement(session, physician_id, data)
        await session.commit()
    return await credit_summary(services, physician_id)


async def delete_requirement(services: Services, physician_id: int, requirement_id: int) -> None:
    async with services.database.session() as session:
        await requirements.delete_requirement(session, physician_id, requirement_id)
        await session.commit()


async def get_physician(services: Services, physician_id: int) -> Physician:
    """Raises ``NotFoundError`` for an unknown physician."""
    async with services.database.session() as session:
        return await physicians.get_physician(session, physician_id)
