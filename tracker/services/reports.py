"""Recording the stays of a Zoom participant or attendee report (``tracker import-zoom-report``).

The report's facts are recorded in chunks, each its own transaction (as the webhooks' are), and
the awards they touch are projected once at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from schedules.occurrences import list_occurrences
from schedules.recurrence import resolve_timezone
from schedules.series import get_series
from tracker.adapters.zoom_report import (
    DateOrder,
    Report,
    digits_only,
    fits_schedule,
    read_report,
    stay_events,
)
from tracker.domain.attendance import Recorded
from tracker.errors import AmbiguousDatesError, ReportMismatchError
from tracker.services import ingestion
from tracker.services.context import Services

#: Stays recorded per transaction.
CHUNK = 250


def _quiet(_done: int, _total: int) -> None:
    """No progress to show."""


def read_for_schedule(
    text: str, zone: ZoneInfo, order: DateOrder | None, windows: list[tuple[datetime, datetime]]
) -> Report:
    """The report read with the given date order, else the file's, else the only one that
    lands every stay on a session of the series; refused when none of them decides."""
    try:
        return read_report(text, zone, order=order)
    except AmbiguousDatesError:
        readings = [read_report(text, zone, order=candidate) for candidate in ("mdy", "dmy")]
        fitting = [reading for reading in readings if fits_schedule(reading.stays, windows)]
        if len(fitting) == 1:
            return fitting[0]
        raise


async def import_zoom_report(
    services: Services,
    series_id: int,
    text: str,
    *,
    timezone: str | None = None,
    order: DateOrder | None = None,
    progress: Callable[[int, int], None] = _quiet,
) -> tuple[Recorded, Report]:
    """Read ``text`` as a report of the series' webinar and record its stays; ``progress``
    hears (stays recorded, stays in the report) after each chunk. Raises ``NotFoundError`` (no such series),
    ``InvalidInputError`` (unknown timezone), ``ReportFormatError`` (not a report, or dates
    that read both ways) and ``ReportMismatchError`` (another webinar's report)."""
    async with services.database.session() as session:
        series = await get_series(session, series_id)
        windows = [(o.start, o.end) for o in await list_occurrences(session, series_id)]
    zone = resolve_timezone(timezone or series.timezone)
    report = read_for_schedule(text, zone, order, windows)
    expected = digits_only(series.zoom_webinar_id or "")
    if report.webinar_id and expected and report.webinar_id != expected:
        raise ReportMismatchError(report.webinar_id, series_id, expected)
    total = Recorded()
    for start in range(0, len(report.stays), CHUNK):
        chunk = report.stays[start : start + CHUNK]
        events = [event for stay in chunk for event in stay_events(stay, series_id=series_id)]
        recorded = await ingestion.record(services.database, events)
        total.accepted += recorded.accepted
        total.duplicates += recorded.duplicates
        total.conflicts += recorded.conflicts
        total.unmatched += recorded.unmatched
        total.pairs |= recorded.pairs
        progress(start + len(chunk), len(report.stays))
    await ingestion.project_all(services)
    return total, report
