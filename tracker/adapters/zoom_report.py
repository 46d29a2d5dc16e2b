"""Zoom's reports (CSV), one row per stay, turned into join/leave facts.

Two layouts are read:

* the meeting **participant report**: an optional block of meeting details, then one header
  line ("Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)")
  and its rows;
* the webinar **attendee report** (web portal, Reports > Webinar > Attendee report): sections,
  each a title line ("Host Details", "Panelist Details", "Attendee Details", "Other Attended")
  followed by its own header line and rows. Only attendees are imported: hosts and panelists
  are the faculty, not learners, and their rows are counted as left out. A registrant who did
  not attend ("Attended" = "No", times "--") is left out too.

In either layout, a row with "In Waiting Room" = "Yes" is time spent waiting to be admitted,
not attendance: it is left out. Cells are separated by commas, or by semicolons or tabs when
a spreadsheet saved the file so (read from the header line with "Join Time", since the lines
of the attendee report's sections hold different numbers of cells).

A row without an email address (a guest) is still a stay: its events are stored unmatched, as
the webhook does, and shown to organisers with the name Zoom gave.

Times are in the report's timezone (the series' one unless told otherwise). Zoom writes them
in the account's locale: "11/02/2026 12:25:40 PM" (US, month first), "02/11/2026 12:25:40"
(day first), "Nov 2, 2026 12:25:40". Whether a numeric date is day or month first is decided
once for the whole file from a date that can only be read one way (a day above 12); when no
date in the file decides, :class:`AmbiguousDatesError` names the first such line and the
caller must say (or find out from the series' schedule, see :func:`fits_schedule`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from schedules.clock import utcnow
from tracker.adapters.csvfiles import Record, Unreadable, records, separator
from tracker.domain.attendance import MATCH_WINDOW, NewEvent
from tracker.domain.bounds import event_time_problem
from tracker.errors import AmbiguousDatesError, ReportFormatError

DateOrder = Literal["mdy", "dmy"]
COLUMNS = {
    "name": (
        "user name (original name)",
        "name (original name)",
        "name",
        "participant",
        "user name",
    ),
    "email": ("user email", "email", "participant email"),
    "join": ("join time",),
    "leave": ("leave time",),
    "duration": (
        "time in session (minutes)",
        "duration (minutes)",
        "duration (mins)",
        "duration",
    ),
    "attended": ("attended",),
    "waiting": ("in waiting room",),
}
#: Section titles of the webinar attendee report and whom their rows describe.
SECTIONS = {
    "host details": "host",
    "panelist details": "panelist",
    "attendee details": "attendee",
    "other attended": "attendee",
}
#: Roles whose stays are imported ("participant": a report without section titles).
IMPORTED_ROLES = frozenset({"attendee", "participant"})
NO_TIME = frozenset({"", "--", "-"})

_NUMERIC = re.compile(
    r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?$"
)
_NAMED = re.compile(
    r"^([A-Za-z]{3})[A-Za-z]*\.? (\d{1,2}),? (\d{4})[ ,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([AaPp])\.?[Mm]\.?)?$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


@dataclass(frozen=True)
class Stay:
    line: int
    name: str
    email: str | None
    join: datetime
    leave: datetime


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class Report:
    """What a report holds: the stays to import, rows that could not be read, and what was
    left out on purpose (by reason), plus the webinar or meeting id when the file names it."""

    stays: list[Stay] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)
    webinar_id: str | None = None


def digits_only(value: str) -> str:
    """A Zoom id as typed ("812 3456 7890", "812-3456-7890") reduced to its digits."""
    return re.sub(r"[\s-]", "", value)


def _numeric_parts(text: str) -> tuple[int, str, int, int, int, int, int, str | None] | None:
    match = _NUMERIC.match(text)
    if match is None:
        return None
    first, separator, second, year, hour, minute, seconds, half = match.groups()
    return (
        int(first),
        separator,
        int(second),
        int(year),
        int(hour),
        int(minute),
        int(seconds or 0),
        half,
    )


def date_order(items: Iterable[Record | Unreadable]) -> DateOrder | None:
    """The order of the file's numeric dates, decided over every cell of the file.

    ``None`` when the file has no numeric date with "/" or "-" (only named months, ISO dates,
    or dotted dates, which are always day first). Raises :class:`AmbiguousDatesError` when no
    date decides and :class:`ReportFormatError` when two dates contradict each other.
    """
    day_first: int | None = None
    month_first: int | None = None
    ambiguous: tuple[int, str] | None = None
    for item in items:
        if not isinstance(item, Record):
            continue
        for cell in item.cells:
            parts = _numeric_parts(cell.strip())
            if parts is None or parts[1] == ".":
                continue
            first, second = parts[0], parts[2]
            if first > 12 >= second and day_first is None:
                day_first = item.line
            elif second > 12 >= first and month_first is None:
                month_first = item.line
            elif first <= 12 and second <= 12 and first != second and ambiguous is None:
                ambiguous = (item.line, cell.strip())
    if day_first is not None and month_first is not None:
        raise ReportFormatError(
            f"dates contradict each other: line {day_first} is day first, "
            f"line {month_first} month first"
        )
    if day_first is not None:
        return "dmy"
    if month_first is not None:
        return "mdy"
    if ambiguous is not None:
        raise AmbiguousDatesError(*ambiguous)
    return None


def _parse_time(value: str, tz: ZoneInfo, order: DateOrder | None) -> datetime:
    text = value.strip()
    parsed: datetime | None = None
    numeric = _numeric_parts(text)
    named = _NAMED.match(text)
    try:
        if numeric is not None:
            first, separator, second, year, hour, minute, second_, half = numeric
            day_first = separator == "." or order == "dmy"
            day, month = (first, second) if day_first else (second, first)
            parsed = datetime(year, month, day, _hour(hour, half), minute, second_)  # noqa: DTZ001  # zone applied below
        elif named is not None and named.group(1).lower() in _MONTHS:
            month_name, day_text, year_text, hour_text, minute_text, sec_text, half = named.groups()
            parsed = datetime(  # noqa: DTZ001  # zone applied below
                int(year_text),
                _MONTHS[month_name.lower()],
                int(day_text),
                _hour(int(hour_text), half),
                int(minute_text),
                int(sec_text or 0),
            )
        elif text[:4].isdigit():
            parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(f"unreadable time {text!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _hour(hour: int, half: str | None) -> int:
    if half is None:
        return hour
    if not 1 <= hour <= 12:
        raise ValueError("an AM/PM hour is between 1 and 12")
    return hour % 12 + (12 if half.lower() == "p" else 0)


def _lowered(cells: list[str]) -> list[str]:
    return [cell.strip().lower() for cell in cells]


def _header_positions(header: list[str]) -> dict[str, int]:
    lowered = _lowered(header)
    positions: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for name in names:
            if name in lowered:
                positions[key] = lowered.index(name)
                break
    return positions


def _title(record: Record) -> str | None:
    """The section title on this line, if it is one (the first cell alone, Zoom pads the rest)."""
    first, *rest = [*record.cells, ""]
    if not first.strip() or any(cell.strip() for cell in rest):
        return None
    name = first.strip().rstrip(":").lower()
    if name in SECTIONS or name.endswith((" details", " report", " attended")):
        return name
    return None


def _id_column(cells: list[str]) -> int | None:
    lowered = _lowered(cells)
    for name in ("webinar id", "meeting id"):
        if name in lowered:
            return lowered.index(name)
    return None


def _separator(text: str) -> str:
    """The file's cell separator, read from its first header line with "Join Time" (a title or
    a details line above it may hold none, or fewer); a comma when no line has the column."""
    for line in text.lstrip("\ufeff").splitlines():
        if "join time" in line.lower():
            return separator(line)
    return ","


def read_report(
    text: str, tz: ZoneInfo, *, order: DateOrder | None = None, now: datetime | None = None
) -> Report:
    """Every stay of the report to import, the rows that could not be read (by line), and the
    rows left out on purpose. ``order`` forces how numeric dates are read; without it the file
    must decide (see :func:`date_order`). A stay dated later than ``now`` (the service's clock,
    read here by default) allows is a bad row: a report tells of sessions that took place."""
    now = now or utcnow()
    items = list(records(text, delimiter=_separator(text)))
    if not any(isinstance(item, Record) and "join time" in _lowered(item.cells) for item in items):
        raise ReportFormatError('no header line with a "Join Time" column')
    if order is None:
        order = date_order(items)
    report = Report()
    role: str | None = "participant"
    positions: dict[str, int] | None = None
    id_column: int | None = None
    for item in items:
        if isinstance(item, Unreadable):
            report.bad.append(BadRow(item.line, item.reason))
            continue
        if item.blank:
            continue
        title = _title(item)
        if title is not None:
            role, positions = SECTIONS.get(title), None
            continue
        if id_column is not None:  # the line under the details header holds the id
            if id_column < len(item.cells) and item.cells[id_column].strip():
                report.webinar_id = digits_only(item.cells[id_column].strip())
            id_column = None
        if "join time" in _lowered(item.cells):
            positions = _header_positions(item.cells)
            missing = [key for key in ("email", "join") if key not in positions]
            if missing:
                raise ReportFormatError(
                    f"line {item.line}: the header lacks the column(s): {', '.join(missing)}"
                )
            continue
        if positions is None:
            if report.webinar_id is None:
                id_column = _id_column(item.cells)
            continue
        _take(report, item, positions, role, tz, order, now)
    return report


def _take(
    report: Report,
    record: Record,
    positions: dict[str, int],
    role: str | None,
    tz: ZoneInfo,
    order: DateOrder | None,
    now: datetime,
) -> None:
    def cell(key: str) -> str:
        index = positions.get(key)
        return (
            record.cells[index].strip() if index is not None and index < len(record.cells) else ""
        )

    if role not in IMPORTED_ROLES:
        report.left_out[role or "other"] += 1
        return
    if cell("attended").lower() == "no":
        report.left_out["absent"] += 1
        return
    if cell("waiting").lower() == "yes":
        report.left_out["waiting"] += 1
        return
    email = cell("email")
    try:
        if cell("join") in NO_TIME:
            raise ValueError("no join time")
        join = _parse_time(cell("join"), tz, order)
        if cell("leave") not in NO_TIME:
            leave = _parse_time(cell("leave"), tz, order)
        elif cell("duration") not in NO_TIME:
            leave = join + timedelta(minutes=float(cell("duration")))
        else:
            raise ValueError("neither a leave time nor a duration")
    except ValueError as exc:
        report.bad.append(BadRow(record.line, str(exc)))
        return
    if leave < join:
        report.bad.append(BadRow(record.line, "leave time is before join time"))
        return
    for label, at in (("join time", join), ("leave time", leave)):
        problem = event_time_problem(at, now=now)
        if problem:
            report.bad.append(BadRow(record.line, f"{label} {problem}"))
            return
    address = email.lower() if "@" in email else None
    report.stays.append(Stay(record.line, cell("name"), address, join, leave))


def parse_report(
    text: str, tz: ZoneInfo, *, order: DateOrder | None = None, now: datetime | None = None
) -> tuple[list[Stay], list[BadRow]]:
    """The stays and the unreadable rows of a report (see :func:`read_report`)."""
    report = read_report(text, tz, order=order, now=now)
    return report.stays, report.bad


def fits_schedule(stays: list[Stay], windows: list[tuple[datetime, datetime]]) -> bool:
    """Whether every stay starts within an occurrence's matching window (start - 60 min,
    end + 60 min), as the webhook's events must. Used to tell day-first from month-first when
    the file cannot: the reading that lands every stay on a session of the series."""
    return bool(stays) and all(
        any(start - MATCH_WINDOW <= stay.join <= end + MATCH_WINDOW for start, end in windows)
        for stay in stays
    )


def stay_events(stay: Stay, *, series_id: int) -> list[NewEvent]:
    """A join and a leave; ids derive from the stay itself so that importing twice adds nothing.

    A guest without an email address is named by the name Zoom shows; the events stay unmatched.
    """
    who = stay.email or f"guest:{stay.name}"
    key = f"{series_id}|{who}|{stay.join.isoformat()}|{stay.leave.isoformat()}"
    if len(key) > 250 or not key.isprintable():
        key = (
            f"{series_id}|sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"
        )
    connection = "report-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
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
