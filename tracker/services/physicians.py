"""The organiser's and the physician's use cases on physicians, their tokens and requirements.

Each function commits once. A new physician, or a changed address, may match attendance events
that arrived before them: those are matched after the commit and their awards recomputed.
"""

from __future__ import annotations

from schedules.clock import utcnow
from tracker.domain import awards, physicians, requirements
from tracker.domain.mailings import enqueue_welcomes
from tracker.domain.models import Physician
from tracker.domain.physicians import Newcomer
from tracker.domain.schemas import (
    CreditSummary,
    PhysicianCreate,
    PhysicianUpdate,
    RequirementCreate,
)
from tracker.services import ingestion
from tracker.services.context import Services


async def create_physician(
    services: Services, data: PhysicianCreate, *, send_welcome: bool = True
) -> tuple[Physician, str]:
    """Store a physician and, unless told not to, queue their welcome email in the same
    transaction; returns them with their personal token, shown this once."""
    now = utcnow()
    async with services.database.session() as session:
        physician, token = await physicians.create_physician(session, data, now=now)
        if send_welcome:
            await enqueue_welcomes(session, services.mail, [Newcomer.of(physician, token)], now=now)
        await session.commit()
    if send_welcome:
        services.poke()
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


async def rotate_token(services: Services, physician_id: int) -> str:
    """A new personal token; the old one, and every session opened with it, stop working."""
    async with services.database.session() as session:
        _, token = await physicians.rotate_token(session, physician_id, now=utcnow())
        await session.commit()
    return token


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
