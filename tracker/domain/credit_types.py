"""Credit types are rows; these helpers read them for validation and statements."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.wording import CreditLabels
from tracker.domain.models import CreditType


async def credit_labels(session: AsyncSession) -> dict[str, str]:
    """``{code: label}`` of every known credit type."""
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.label for row in rows}


async def credit_label_table(session: AsyncSession) -> CreditLabels:
    """Every known credit type's label in each language (:class:`CreditLabels`)."""
    rows = (await session.exec(select(CreditType))).all()
    return CreditLabels(
        fallback={row.code: row.label for row in rows},
        translated={row.code: dict(row.labels or {}) for row in rows},
    )


async def credit_regimes(session: AsyncSession) -> dict[str, str]:
    """``{code: regime}`` of every credit type that has one (:mod:`tracker.domain.regimes`)."""
    rows = (await session.exec(select(CreditType))).all()
    return {row.code: row.regime for row in rows if row.regime}
