"""How many physicians were connected to a session, minute by minute (the organiser's chart)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import accumulate
from math import ceil
from typing import cast

from sqlalchemy import select as sa_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence
from tracker.domain.credits import Fact, Kind, connected
from tracker.domain.models import AttendanceEvent


async def connected_per_minute(
    session: AsyncSession, occurrence: Occurrence, *, now: datetime
) -> list[int]:
    """Physicians connected in each minute of the occurrence (open connections up to ``now``)."""
    query = sa_select(
        col(AttendanceEvent.physician_id),
        col(AttendanceEvent.kind),
        col(AttendanceEvent.at),
        col(AttendanceEvent.connection_id),
        col(AttendanceEvent.source),
    ).where(col(AttendanceEvent.occurrence_id) == occurrence.id)
    rows = (
        await (await session.connection()).execute(query)
    ).all()  # five columns, not the events' payloads: a big session has a hundred thousand
    ended = [Fact("ended", at) for _, kind, at, _, _ in rows if kind == "ended"]
    facts: dict[int, list[Fact]] = defaultdict(list)
    for physician_id, kind, at, connection_id, source in rows:
        if physician_id is not None and kind != "ended":
            facts[physician_id].append(Fact(cast(Kind, kind), at, connection_id, source))
    minutes = max(1, int((occurrence.end - occurrence.start).total_seconds() // 60))
    changes = [0] * (minutes + 1)  # +1 where a connection starts counting, -1 where it stops
    for physician_facts in facts.values():
        merged, _ = connected(
            physician_facts + ended, start=occurrence.start, end=occurrence.end, now=now
        )
        for a, b in merged:  # disjoint: each minute's middle is in at most one of them
            # the minutes m whose middle, start + m min + 30 s, lies in [a, b)
            first = ceil(((a - occurrence.start).total_seconds() - 30) / 60)
            stop = ceil(((b - occurrence.start).total_seconds() - 30) / 60)
            first, stop = max(0, first), min(minutes, stop)
            if first < stop:
                changes[first] += 1
                changes[stop] -= 1
    return list(accumulate(changes[:minutes]))
