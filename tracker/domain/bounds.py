"""What the outside world may hand us as an id or an instant (leaf module: imports nothing of ours).

Ids: every id column is an SQL ``INTEGER`` (32 bits on PostgreSQL), so an id is one to ten ASCII
digits up to 2,147,483,647. ``str.isdigit`` is not enough: it accepts "²" (which ``int`` refuses)
and U+0661 ARABIC-INDIC DIGIT ONE (which ``int`` reads as 1). Instants of attendance facts lie in a fixed, generous window:
a join in year 9999 is a malformed event, and date arithmetic near the ends of ``datetime``
overflows. Nor does a fact lie in the future: a join dated three weeks ahead would be counted as
credit for a session that has not happened, so a fact later than the service's clock plus
:data:`FUTURE_TOLERANCE` (senders' clocks run a little fast) is refused on every path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field

from tracker.domain.numerals import is_ascii_digits

MAX_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="A row id (1 to 2,147,483,647)")]

EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)
EVENT_WINDOW = f"{EARLIEST_EVENT.date()} to {LATEST_EVENT.date()}"
#: How far ahead of this service's clock an attendance fact may be dated: the sender's clock
#: (Zoom's, an LMS's) may run a few minutes fast; more than that is a fact that has not happened.
FUTURE_TOLERANCE = timedelta(minutes=5)


def is_row_id(value: int) -> bool:
    """Whether ``value`` can name a row (ids from the command line arrive as ints)."""
    return 1 <= value <= MAX_ID


def parse_id(text: str) -> int | None:
    """The id written in ``text`` (ASCII digits only), or ``None`` when no row can have it."""
    if not is_ascii_digits(text) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if is_row_id(value) else None


def as_utc_or_none(value: datetime) -> datetime | None:
    """``value`` in UTC, or ``None`` when UTC cannot hold it (year 1 at +14:00, year 9999 at -14:00)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def event_time_problem(value: datetime, *, now: datetime | None) -> str | None:
    """Why ``value`` cannot be the time of an attendance fact recorded at ``now`` (the
    service's clock), or ``None`` when it can; ``now`` ``None`` checks the window only (for a
    reader that says which of several times is in the future itself)."""
    utc = as_utc_or_none(value)
    if utc is None or not EARLIEST_EVENT <= utc < LATEST_EVENT:
        return f"is outside {EVENT_WINDOW}"
    if now is not None and utc > now + FUTURE_TOLERANCE:
        minutes = int(FUTURE_TOLERANCE.total_seconds() // 60)
        return f"is in the future (more than {minutes} minutes after this service's clock)"
    return None
