"""The minute-by-minute presence of a session (:mod:`tracker.domain.presence`) as an accessible
inline SVG."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape


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
