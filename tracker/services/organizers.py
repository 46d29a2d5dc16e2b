"""Organiser accounts."""

from __future__ import annotations

from tracker.db import Database
from tracker.domain import organizers
from tracker.domain.models import Organizer


async def create_organizer(database: Database, *, name: str, email: str) -> tuple[Organizer, str]:
    """Store a new organiser; returns it with its token, which is never shown again."""
    async with database.session() as session:
        organizer, token = await organizers.add_organizer(session, name=name, email=email)
        await session.commit()
    return organizer, token
