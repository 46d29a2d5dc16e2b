"""Credit types are rows; these helpers read them for validation and statements."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import CreditType


async def credit_labels(session: AsyncSession) -> dict[str, str]:
    """``{code: label}`` of every known credit type."""
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.label for row in rows}


async def credit_regimes(session: AsyncSession) -> dict[str, str]:
    """``{code: regime}`` of every credit type that has one (:mod:`tracker.domain.regimes`)."""
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.regime for row in rows if row.regime}
