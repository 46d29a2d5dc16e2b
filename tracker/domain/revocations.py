"""Which sessions an organiser's revocation voids: the one rule every reader of credit follows.

A physician's session (one occurrence) is **revoked** when the latest certificate issued for it
was revoked. From then on the session attests no credit anywhere: not in the physician's totals
and requirement progress, not in the monthly statement, not in the board completions export;
and no new certificate (or email) is issued for it, even when a late event recomputes its
award (the award keeps its recomputed figures, its receipt still explains them). No page or
API lifts a revocation: it stays in force for good.

Revoking a certificate that a later one had already replaced voids nothing more: the session's
latest certificate still stands (its replacement is what counts, and what the chain names).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, not_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import Certificate


def _latest_revoked(certificate: Any) -> ColumnElement[bool]:
    """``certificate`` (an alias of the table) is revoked and no later version replaced it."""
    newer = aliased(Certificate)
    replaced = exists().where(
        col(newer.occurrence_id) == certificate.occurrence_id,
        col(newer.physician_id) == certificate.physician_id,
        col(newer.version) > certificate.version,
    )
    return and_(certificate.revoked_at.is_not(None), not_(replaced))


def session_revoked(occurrence_id: Any, physician_id: Any) -> ColumnElement[bool]:
    """SQL: the session of these columns (an award's, usually) is revoked, as a correlated
    ``EXISTS`` to put in a query's ``WHERE`` (negated, to keep what counts)."""
    certificate = aliased(Certificate)
    return exists().where(
        col(certificate.occurrence_id) == occurrence_id,
        col(certificate.physician_id) == physician_id,
        _latest_revoked(certificate),
    )


async def revoked_sessions(
    session: AsyncSession, physician_id: int, occurrence_ids: Collection[int] | None = None
) -> dict[int, datetime]:
    """The physician's revoked sessions (among ``occurrence_ids``, if given): when each was
    revoked, by occurrence id."""
    certificate = aliased(Certificate)
    query = select(certificate.occurrence_id, certificate.revoked_at).where(
        certificate.physician_id == physician_id, _latest_revoked(certificate)
    )
    if occurrence_ids is not None:
        if not occurrence_ids:
            return {}
        query = query.where(col(certificate.occurrence_id).in_(list(occurrence_ids)))
    rows = (await session.exec(query)).all()
    return {occurrence_id: revoked_at for occurrence_id, revoked_at in rows if revoked_at}


async def revoked_attendees(
    session: AsyncSession, occurrence_id: int, physician_ids: Collection[int]
) -> dict[int, datetime]:
    """Which of these attendees of one session had it revoked: when, by physician id."""
    if not physician_ids:
        return {}
    certificate = aliased(Certificate)
    query = select(certificate.physician_id, certificate.revoked_at).where(
        certificate.occurrence_id == occurrence_id,
        col(certificate.physician_id).in_(list(physician_ids)),
        _latest_revoked(certificate),
    )
    rows = (await session.exec(query)).all()
    return {physician_id: revoked_at for physician_id, revoked_at in rows if revoked_at}
