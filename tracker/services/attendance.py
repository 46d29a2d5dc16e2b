"""Attendance use cases beyond recording: an organiser matching a kept event by hand."""

from __future__ import annotations

from schedules.errors import NotFoundError
from tracker.domain import physicians
from tracker.domain.attendance import mark_pending, match
from tracker.domain.models import AttendanceEvent
from tracker.services import ingestion
from tracker.services.context import Services


async def match_by_hand(services: Services, event_id: int, email: str) -> bool:
    """Give an unmatched event the physician with this address (the fact itself is never
    changed); False when no physician has it. Raises ``NotFoundError`` for an unknown event."""
    async with services.database.session() as session:
        event = await session.get(AttendanceEvent, event_id)
        if event is None:
            raise NotFoundError("attendance event", event_id)
        physician = await physicians.physician_by_email(session, email)
        if physician is None:
            return False
        event.physician_id = physician.id
        await match(session, event)
        occurrence_id, physician_id = event.occurrence_id, event.physician_id
        if occurrence_id is not None and physician_id is not None:
            await mark_pending(session, [(occurrence_id, physician_id)])
        await session.commit()
    if occurrence_id is not None and physician_id is not None:
        await ingestion.project_soon(services)
    return True
