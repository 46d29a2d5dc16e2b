"""How many physicians were connected, minute by minute, as an accessible inline SVG."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from html import escape
from itertools import accumulate
from math import ceil
from typing import cast

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.models import Occurrence
from tracker.domain.credits import Fact, Kind, connected
from tracker.domain.models import AttendanceEvent


async def connected_per_minute(
    session: AsyncSession, occurrence: Occurrence, *, now: datetime
) -> list[int]:
    """Physicians connected in each minute of the occurrence (open connections up to ``now``)."""
    rows = (
        await session.exec(
            select(
                AttendanceEvent.physician_id,
                AttendanceEvent.kind,
                AttendanceEvent.at,
                AttendanceEvent.connection_id,
            ).where(AttendanceEvent.occurrence_id == occurrence.id)
        )
    ).all()  # four columns, not the events' payloads: a big session has a hundred thousand
    ended = [Fact("ended", at) for _, kind, at, _ in rows if kind == "ended"]
    facts: dict[int, list[Fact]] = defaultdict(list)
    for physician_id, kind, at, connection_id in rows:
        if physician_id is not None and kind != "ended":
            facts[physician_id].append(Fact(cast(Kind, kind), at, connection_id))
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


def svg(counts: list[int], *, title: str, start: datetime) -> str:
    """Bars, one per minute; the title and a text summary make it readable without sight."""
    width, height, pad = 600, 160, 24
    top = max(counts, default=0) or 1
    bar = (width - 2 * pad) / max(1, len(counts))
    bars = "".join(
        f'<rect x="{pad + i * bar:.1f}" y="{height - pad - (c / top) * (height - 2 * pad):.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(c / top) * (height - 2 * pad):.1f}" fill="#0b5394">'
        f"<title>{(start + timedelta(minutes=i)):%H:%M} UTC: {c}</title></rect>"
        for i, c in enumerate(counts)
    )
    summary = f"{escape(title)}: max {max(counts, default=0)}, {len(counts)} min"
    return (
        f'<svg role="img" aria-label="{summary}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{summary}</title>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#555"/>'
        f'<text x="{pad}" y="{pad - 6}" font-size="12" fill="#222">{top}</text>{bars}</svg>'
    )
