"""The organiser's use cases on the outbox beyond reading it (:mod:`tracker.services.lists`)."""

from __future__ import annotations

from notifications.models import OutboxMessage
from notifications.outbox import retry_all_failed, retry_failed
from schedules.clock import utcnow
from tracker.services.context import Services


async def retry_message(services: Services, message_id: int) -> OutboxMessage | None:
    """Send a failed message again (the worker is woken); ``None`` for an unknown message.
    A message that is not failed is left as it is and returned."""
    async with services.database.session() as session:
        row = await retry_failed(session, message_id, now=utcnow())
    if row is not None:
        services.poke()
    return row


async def retry_every_failed(services: Services, *, kind: str | None = None) -> int:
    """Send every failed message (of ``kind``) again, at once; returns how many."""
    async with services.database.session() as session:
        count = await retry_all_failed(session, kind=kind, now=utcnow())
    if count:
        services.poke()
    return count
