"""The dates a schedule may use: within ten years of now, before and after.

A series' first start, a moved occurrence's start and a rule's UNTIL are checked at the edge
(API and pages alike go through the domain functions that call these), so that a typo such as
year 9999 or year 1 is refused with a message instead of being stored and breaking every feed
that shows it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from schedules.errors import InvalidInputError

WINDOW_YEARS = 10


def _years_from(now: datetime, years: int) -> datetime:
    """The same day and time ``years`` later (or earlier); 29 February becomes the 28th."""
    try:
        return now.replace(year=now.year + years)
    except ValueError:
        return now.replace(year=now.year + years, day=28)


def window(now: datetime) -> tuple[datetime, datetime]:
    """The first and last instant a schedule may use, seen from ``now``."""
    return _years_from(now, -WINDOW_YEARS), _years_from(now, WINDOW_YEARS)


def _refusal(field: str, now: datetime, *, subject: str = "", hint: str = "") -> InvalidInputError:
    earliest, latest = (moment.date() for moment in window(now))
    return InvalidInputError(
        field,
        f"{subject}must be within {WINDOW_YEARS} years of now: between {earliest.isoformat()} "
        f"and {latest.isoformat()}{hint}",
    )


def check_instant(field: str, value: datetime, *, now: datetime) -> None:
    """Refuse an aware ``value`` more than :data:`WINDOW_YEARS` before or after ``now``."""
    earliest, latest = window(now)
    if not earliest <= value <= latest:
        raise _refusal(field, now)


def check_local(field: str, value: datetime, tz: ZoneInfo, *, now: datetime) -> None:
    """The same for a naive local wall-clock time in ``tz``, compared without converting it
    (converting year 1 or 9999 to UTC can overflow)."""
    earliest, latest = (moment.astimezone(tz).replace(tzinfo=None) for moment in window(now))
    if not earliest <= value <= latest:
        raise _refusal(field, now)


def check_until(field: str, until: datetime | None, *, now: datetime) -> None:
    """Refuse a rule's UNTIL later than the window (earlier ones give no occurrence anyway)."""
    if until is not None and until > window(now)[1]:
        raise _refusal(
            field, now, subject="UNTIL ", hint="; leave UNTIL out for a series with no end date"
        )
