"""How many physicians were connected, minute by minute, as an accessible inline SVG."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from html import escape
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
            select(AttendanceEvent).where(AttendanceEvent.occurrence_id == occurrence.id)
        )
    ).all()
    ended = [Fact("ended", row.at) for row in rows if row.kind == "ended"]
    facts: dict[int, list[Fact]] = defaultdict(list)
    for row in rows:
        if row.physician_id is not None and row.kind != "ended":
            facts[row.physician_id].append(Fact(cast(Kind, row.kind), row.at, row.connection_id))
    minutes = max(1, int((occurrence.end - occurrence.start).total_seconds() // 60))
    counts = [0] * minutes
    for physician_facts in facts.values():
        merged, _ = connected(
            physician_facts + ended, start=occurrence.start, end=occurrence.end, now=now
        )
        for minute in range(minutes):
            middle = occurrence.start + timedelta(minutes=minute, seconds=30)
            if any(a <= middle < b for a, b in merged):
                counts[minute] += 1
    return counts


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
