"""Reminders: the planner's catch-up and one occurrence's reminders at one offset.

Each function commits what it queued; the jobs (``tracker.jobs``) only schedule and poke.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence, Series
from tracker.db import Database
from tracker.domain.mailings import (
    MailSettings,
    enqueue_reminders,
    offsets,
    reminder_recipients,
    reminders_due,
)
from tracker.domain.models import JobState
from tracker.services.transactions import queue_in_batches

#: A reminder job that fires this much before its time still sends (clocks and timers drift).
EARLY = timedelta(seconds=5)


@dataclass(frozen=True)
class DueReminder:
    occurrence_id: int
    offset: str
    due: datetime


async def advance_watermark(database: Database, name: str, now: datetime) -> datetime:
    """When the planner ``name`` last ran (``now`` the first time), and record this run."""
    async with database.session() as session:
        state = await session.get(JobState, name)
        since = state.last_run_at if state else now
        if state is None:
            session.add(JobState(name=name, last_run_at=now))
        else:
            state.last_run_at = max(state.last_run_at, now)
        try:
            await session.commit()
        except IntegrityError:  # another process recorded its first run at the same moment
            await session.rollback()
    return since


async def _queue_reminders(
    session: AsyncSession,
    mail: MailSettings,
    occurrence: Occurrence,
    series: Series,
    offset: str,
    *,
    now: datetime,
) -> int:
    """Queue one occurrence's reminders at one offset, one commit per :data:`MAIL_BATCH`."""
    return await queue_in_batches(
        session,
        await reminder_recipients(session, series.id or 0),
        lambda batch: enqueue_reminders(
            session, mail, occurrence, series, offset, now=now, recipients=batch
        ),
    )


async def send_reminders(
    database: Database, mail: MailSettings, occurrence_id: int, offset: str, *, now: datetime
) -> int:
    """One occurrence's reminders at one offset, if that is still their time (the session may
    have moved later, or the offset been removed, since the job was planned)."""
    async with database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None:
            return 0
        series = await session.get_one(Series, occurrence.series_id)
        due = {text: occurrence.start - delta for text, delta in offsets(series)}.get(offset)
        if due is None or due > now + EARLY:
            return 0
        return await _queue_reminders(session, mail, occurrence, series, offset, now=now)


async def catch_up_reminders(
    database: Database, mail: MailSettings, *, now: datetime, window: timedelta
) -> tuple[int, list[DueReminder]]:
    """Queue the reminders that came due since the planner last ran (recorded as skipped when
    the session had already started); returns how many were due and those due within
    ``window`` from now, for the scheduler."""
    since = await advance_watermark(database, "reminders", now)
    async with database.session() as session:
        overdue = await reminders_due(session, after=since, until=now)
        for occurrence, series, offset, _due in overdue:
            await _queue_reminders(session, mail, occurrence, series, offset, now=now)
        upcoming = await reminders_due(session, after=now, until=now + window)
    return len(overdue), [
        DueReminder(occurrence.id or 0, offset, due)
        for occurrence, _series, offset, due in upcoming
    ]
