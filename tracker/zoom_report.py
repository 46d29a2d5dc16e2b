"""Zoom's participant report (CSV), one row per stay, turned into join/leave facts.

Zoom writes an optional block of meeting details first, then a header line with columns such as
"Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)". Times are
in the report's timezone (the series' timezone unless told otherwise).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.attendance import NewEvent
from tracker.csvfiles import Record, Unreadable, records

TIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
)
COLUMNS = {
    "name": ("name (original name)", "name", "participant", "user name"),
    "email": ("user email", "email", "participant email"),
    "join": ("join time",),
    "leave": ("leave time",),
    "duration": ("duration (minutes)", "duration (mins)", "duration"),
}


@dataclass(frozen=True)
class Stay:
    line: int
    name: str
    email: str
    join: datetime
    leave: datetime


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


class ReportFormatError(ValueError):
    """The file is not a Zoom participant report at all."""


def _parse_time(value: str, tz: ZoneInfo) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)  # noqa: DTZ007  # zone applied just below
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unreadable time {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _header_positions(header: list[str]) -> dict[str, int]:
    lowered = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for name in names:
            if name in lowered:
                positions[key] = lowered.index(name)
                break
    return positions


def parse_report(text: str, tz: ZoneInfo) -> tuple[list[Stay], list[BadRow]]:
    """Every stay in the report, and every row that could not be read (with its line number)."""
    items = list(records(text))
    start, header = next(
        (
            (i, item)
            for i, item in enumerate(items)
            if isinstance(item, Record) and "join time" in [c.strip().lower() for c in item.cells]
        ),
        (None, None),
    )
    if start is None or header is None:
        raise ReportFormatError('no header line with a "Join Time" column')
    positions = _header_positions(header.cells)
    missing = [key for key in ("email", "join") if key not in positions]
    if missing:
        raise ReportFormatError(f"the header lacks the column(s): {', '.join(missing)}")
    stays: list[Stay] = []
    bad: list[BadRow] = []
    for item in items[start + 1 :]:
        if isinstance(item, Unreadable):
            bad.append(BadRow(item.line, item.reason))
        elif not item.blank:
            stay = _stay(item, positions, tz)
            if isinstance(stay, Stay):
                stays.append(stay)
            else:
                bad.append(stay)
    return stays, bad


def _stay(record: Record, positions: dict[str, int], tz: ZoneInfo) -> Stay | BadRow:
    def cell(key: str) -> str:
        index = positions.get(key)
        return (
            record.cells[index].strip() if index is not None and index < len(record.cells) else ""
        )

    email = cell("email")
    if "@" not in email:
        return BadRow(record.line, "no email address, so the row cannot be matched to a physician")
    try:
        join = _parse_time(cell("join"), tz)
        if cell("leave"):
            leave = _parse_time(cell("leave"), tz)
        elif cell("duration"):
            leave = join + timedelta(minutes=float(cell("duration")))
        else:
            raise ValueError("neither a leave time nor a duration")
    except ValueError as exc:
        return BadRow(record.line, str(exc))
    if leave < join:
        return BadRow(record.line, "leave time is before join time")
    return Stay(record.line, cell("name"), email.lower(), join, leave)


def stay_events(stay: Stay, *, series_id: int) -> list[NewEvent]:
    """A join and a leave; ids derive from the stay itself so that importing twice adds nothing."""
    key = f"{series_id}|{stay.email}|{stay.join.isoformat()}|{stay.leave.isoformat()}"
    connection = "report-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    payload = {
        "line": stay.line,
        "name": stay.name,
        "email": stay.email,
        "join": stay.join.isoformat(),
        "leave": stay.leave.isoformat(),
    }
    return [
        NewEvent(
            source="zoom_report",
            external_id=f"{key}|{kind}",
            kind=kind,
            at=at,
            payload=payload,
            email=stay.email,
            connection_id=connection,
            series_id=series_id,
        )
        for kind, at in (("join", stay.join), ("leave", stay.leave))
    ]
