"""Credit requirements of a physician ("50 AMA_PRA_1 in 2027")."""

from __future__ import annotations

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError
from tracker.domain.models import CreditType, Requirement
from tracker.domain.physicians import get_physician
from tracker.domain.schemas import RequirementCreate


async def add_requirement(
    session: AsyncSession, physician_id: int, data: RequirementCreate
) -> Requirement:
    await get_physician(session, physician_id)
    if await session.get(CreditType, data.type) is None:
        raise InvalidInputError("type", f"unknown credit type {data.type}")
    requirement = Requirement(
        physician_id=physician_id,
        credit_type=data.type,
        required=data.required,
        start_date=data.from_,
        end_date=data.to,
    )
    session.add(requirement)
    await session.flush()
    return requirement


async def delete_requirement(session: AsyncSession, physician_id: int, requirement_id: int) -> None:
    query = select(Requirement).where(
        Requirement.id == requirement_id, Requirement.physician_id == physician_id
    )
    if (await session.exec(query)).first() is None:
        raise NotFoundError("requirement", requirement_id)
    await session.exec(delete(Requirement).where(col(Requirement.id) == requirement_id))
