"""Attendance use cases beyond recording: an organiser matching a kept event by hand."""

from __future__ import annotations

from schedules.errors import NotFoundError
from tracker.domain import physicians
from tracker.domain.attendance import match
from tracker.domain.models import AttendanceEvent
from tracker.services import projections
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
        await session.commit()
        pair = (event.occurrence_id, event.physician_id)
    if pair[0] is not None and pair[1] is not None:
        await projections.attendance_recorded(services, [(pair[0], pair[1])])
    return True
