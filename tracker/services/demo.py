"""Demo data: the "Mondays" series of a digital-health institute, in French."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, Series
from schedules.occurrences import list_occurrences, update_occurrence
from schedules.recurrence import resolve_timezone
from schedules.schemas import OccurrenceUpdate, SeriesCreate
from schedules.series import create_series
from tracker.db import Database
from tracker.domain.credit_types import credit_labels

DEMO_TITLE = "Les lundis de la santé numérique"


def _demo_start(now: datetime) -> datetime:
    """Monday 12:30 Paris, four weeks before ``now``: a few sessions already happened."""
    local = now.astimezone(resolve_timezone("Europe/Paris")) - timedelta(weeks=4)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(12, 30))  # naive on purpose: series start is local


async def load_demo(database: Database, *, now: datetime) -> Series | None:
    """Create the demo series unless it exists; returns it, or ``None`` when already there.

    The second upcoming session is cancelled and the third moved to Tuesday 18:00.
    """
    async with database.session() as session:
        return await _load(session, now=now)


async def _load(session: AsyncSession, *, now: datetime) -> Series | None:
    if (await session.exec(select(Series).where(Series.title == DEMO_TITLE))).first():
        return None
    data = SeriesCreate.model_validate(
        {
            "title": DEMO_TITLE,
            "description": (
                "Chaque lundi, une heure pour faire le point sur la santé numérique : "
                "télémédecine, IA clinique, données de santé. Questions en direct."
            ),
            "timezone": "Europe/Paris",
            "start": _demo_start(now),
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "join_url": "https://zoom.us/j/81234567890",
            "credits": [{"type": "AMA_PRA_1", "max": 1.0}],
            "min_attendance_percent": 50,
            "language": "fr",
            "zoom_webinar_id": "81234567890",
        }
    )
    series = await create_series(session, data, credit_types=await credit_labels(session), now=now)
    upcoming: list[Occurrence] = await list_occurrences(session, series.id or 0, start_from=now)
    cancelled, moved = upcoming[1], upcoming[2]
    await update_occurrence(
        session, cancelled.id or 0, OccurrenceUpdate(status="cancelled"), now=now
    )
    tuesday_evening = (
        (moved.start + timedelta(days=1))
        .astimezone(resolve_timezone("Europe/Paris"))
        .replace(hour=18, minute=0)
    )
    await update_occurrence(
        session, moved.id or 0, OccurrenceUpdate(start=tuesday_evening), now=now
    )
    await session.commit()
    return series
