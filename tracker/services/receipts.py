"""Reading one award's credit receipt (SPEC 7): the physician's own, or any for an organiser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schedules.clock import utcnow
from schedules.models import Occurrence, Series
from tracker.domain.awards import award_receipt
from tracker.domain.models import Award, Physician
from tracker.domain.revocations import revoked_attendees
from tracker.services.context import Services
from tracker.services.ingestion import settle


@dataclass(frozen=True)
class ReceiptView:
    award: Award
    occurrence: Occurrence
    series: Series
    physician: Physician
    receipt: dict[str, Any]
    #: When the organiser revoked the session's certificate (its credits then count nowhere).
    revoked_at: datetime | None = None


async def receipt(services: Services, occurrence_id: int, physician_id: int) -> ReceiptView | None:
    """The receipt of this physician's award at this occurrence, pending facts projected first;
    None when there is no such award (an unknown occurrence or physician included)."""
    await settle(services, occurrence_id=occurrence_id, physician_id=physician_id)
    async with services.database.session() as session:
        physician = await session.get(Physician, physician_id)
        found = await award_receipt(session, occurrence_id, physician_id, now=utcnow())
        revoked = await revoked_attendees(session, occurrence_id, [physician_id])
    if physician is None or found is None:
        return None
    return ReceiptView(*found[:3], physician, found[3], revoked.get(physician_id))
