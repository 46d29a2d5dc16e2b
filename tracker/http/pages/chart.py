"""The minute-by-minute presence of a session (:mod:`tracker.domain.presence`) as an accessible
inline SVG, with a time axis in the series' timezone."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

#: Minutes between two labelled ticks of the time axis, by the session's length.
_TICKS = ((30, 5), (90, 15), (240, 30), (24 * 60, 60))


def _tick_minutes(length: int) -> int:
    return next((step for longest, step in _TICKS if length <= longest), 120)


def _clock(start: datetime, minutes: int, zone: ZoneInfo) -> str:
    """The wall-clock time ``minutes`` after ``start`` ("" past the calendar's last day)."""
    try:
        return f"{(start + timedelta(minutes=minutes)).astimezone(zone):%H:%M}"
    except OverflowError:
        return ""


def svg(counts: list[int], *, title: str, start: datetime, tz: str = "UTC") -> str:
    """Bars, one per minute, under a time axis (local wall-clock times, every 5 to 60 minutes);
    the title and a text summary make it readable without sight."""
    width, height, pad, axis = 600, 180, 28, 22
    base = height - axis
    zone = ZoneInfo(tz)
    top = max(counts, default=0) or 1
    bar = (width - 2 * pad) / max(1, len(counts))
    bars = "".join(
        f'<rect x="{pad + i * bar:.1f}" y="{base - (c / top) * (base - pad):.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{(c / top) * (base - pad):.1f}" fill="#0b5394">'
        f"<title>{_clock(start, i, zone)}: {c}</title></rect>"
        for i, c in enumerate(counts)
    )
    step = _tick_minutes(len(counts))
    ticks = "".join(
        f'<line x1="{pad + i * bar:.1f}" y1="{base}" x2="{pad + i * bar:.1f}" y2="{base + 5}" '
        f'stroke="#555"/><text x="{pad + i * bar:.1f}" y="{base + 17}" font-size="11" '
        f'text-anchor="middle" fill="#222">{_clock(start, i, zone)}</text>'
        for i in range(0, len(counts) + 1, step)
    )
    summary = f"{escape(title)}: max {max(counts, default=0)}, {len(counts)} min"
    return (
        f'<svg role="img" aria-label="{summary}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{summary}</title>'
        f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="#555"/>'
        f'<text x="{pad}" y="{pad - 8}" font-size="12" fill="#222">{top}</text>{bars}{ticks}</svg>'
    )
