"""RFC 5545 recurrence rules: validation, bounds and expansion in local wall-clock time.

Occurrences are expanded as naive local datetimes and only then placed in the series' timezone,
so a Monday 12:30 Europe/Paris series stays at 12:30 on both sides of a DST change. A local time
that falls in a spring-forward gap is read with the offset before the gap, as RFC 5545 says.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr
from icalendar.prop import vRecur

from schedules.errors import InvalidRuleError, UnknownTimezoneError

MAX_OCCURRENCES = 1000
HORIZON = timedelta(days=400)
ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
SUPPORTED_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "WKST",
        "BYHOUR",
        "BYMINUTE",
    }
)
#: An impossible rule (say, every 30 February) makes dateutil scan day by day to year 9999.
EXPANSION_TIME_LIMIT_SECONDS = 2.0
_expander = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="rrule")


def resolve_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name, or :class:`UnknownTimezoneError`."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise UnknownTimezoneError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezoneError(name) from None


def normalise_rule(text: str, tz: ZoneInfo) -> str:
    """Check an RRULE value and return it in canonical form (UNTIL in UTC, parts in RFC order).

    Accepts the value with or without the ``RRULE:`` prefix; refuses several lines, DTSTART,
    sub-daily frequencies, a zero interval and parts this service does not support.
    """
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    if not value or any(ch in value for ch in "\r\n"):
        raise InvalidRuleError("give a single RRULE value such as FREQ=WEEKLY;BYDAY=MO")
    try:
        parsed = vRecur.from_ical(value)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidRuleError(f"cannot parse {value!r}: {exc}") from None
    unknown = sorted(set(parsed) - SUPPORTED_PARTS)
    if unknown:
        raise InvalidRuleError(f"unsupported part(s): {', '.join(unknown)}")
    frequencies = parsed.get("FREQ") or []
    if len(frequencies) != 1:
        raise InvalidRuleError("FREQ is required exactly once")
    frequency = str(frequencies[0]).upper()
    if frequency not in ALLOWED_FREQUENCIES:
        raise InvalidRuleError(
            f"FREQ={frequency} is not allowed; use one of {', '.join(ALLOWED_FREQUENCIES)}"
        )
    for part in ("INTERVAL", "COUNT"):
        values = parsed.get(part)
        if values is not None and (len(values) != 1 or int(values[0]) < 1):
            raise InvalidRuleError(f"{part} must be a single whole number of at least 1")
    if "COUNT" in parsed and "UNTIL" in parsed:
        raise InvalidRuleError("COUNT and UNTIL cannot both be given")
    if "UNTIL" in parsed:
        until = parsed["UNTIL"][0]
        if not isinstance(until, datetime):  # a DATE: the whole local day is included
            until = datetime(until.year, until.month, until.day, 23, 59, 59, tzinfo=tz)
        elif until.tzinfo is None:
            until = until.replace(tzinfo=tz)
        parsed["UNTIL"] = [until.astimezone(UTC)]
    return _recur_text(parsed)


def _recur_text(parts: vRecur) -> str:
    return bytes(vRecur(parts).to_ical()).decode("ascii")  # type: ignore[no-untyped-call]  # icalendar leaves to_ical untyped


def _dateutil_rule(rule: str, start_local: datetime, tz: ZoneInfo) -> rrule:
    """dateutil works on naive local times: UNTIL is turned back to local wall-clock time."""
    parsed = vRecur.from_ical(rule)
    if "UNTIL" in parsed:
        until = parsed["UNTIL"][0]
        parsed["UNTIL"] = [until.astimezone(tz).replace(tzinfo=None)]
    result = rrulestr(_recur_text(parsed), dtstart=start_local)
    if not isinstance(result, rrule):  # pragma: no cover - a single RRULE yields an rrule
        raise InvalidRuleError("the rule must be a single RRULE")
    return result


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Place a naive wall-clock time in ``tz`` and convert it to UTC (gap: offset before it)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _expand_local(
    rule: str | None, start_local: datetime, tz: ZoneInfo, until_local: datetime
) -> list[datetime]:
    if rule is None:
        return [start_local] if start_local <= until_local else []
    found: list[datetime] = []
    for occurrence in _iterate(_dateutil_rule(rule, start_local, tz)):
        if occurrence > until_local:
            break
        found.append(occurrence)
        if len(found) > MAX_OCCURRENCES:
            break
    return found


def _iterate(rule: rrule) -> Iterator[datetime]:
    yield from rule


async def expand(
    *, rule: str | None, start_local: datetime, tz: ZoneInfo, until: datetime
) -> list[datetime]:
    """Occurrence starts in UTC from ``start_local`` up to ``until`` (aware), at most 1,001.

    Raises :class:`InvalidRuleError` when the rule takes too long to expand. Callers decide
    what to do with more than :data:`MAX_OCCURRENCES` results.
    """
    until_local = until.astimezone(tz).replace(tzinfo=None)
    future = _expander.submit(_expand_local, rule, start_local, tz, until_local)
    try:
        local_starts = await asyncio.wait_for(
            asyncio.wrap_future(future), timeout=EXPANSION_TIME_LIMIT_SECONDS
        )
    except TimeoutError:
        raise InvalidRuleError(
            "the rule takes too long to expand; is it possible at all?"
        ) from None
    except ValueError as exc:  # dateutil's own checks, e.g. BYMONTHDAY=40
        raise InvalidRuleError(str(exc)) from None
    return [to_utc(start, tz) for start in local_starts]


def check_expansion(starts: list[datetime], *, has_rule: bool) -> None:
    """Refuse rules with no occurrence, or with more than :data:`MAX_OCCURRENCES` in the horizon."""
    if not starts:
        raise InvalidRuleError("the rule produces no occurrence from the start date")
    if has_rule and len(starts) > MAX_OCCURRENCES:
        raise InvalidRuleError(
            f"the rule produces more than {MAX_OCCURRENCES} occurrences within the horizon "
            f"(until {(starts[MAX_OCCURRENCES - 1]).date().isoformat()} already has "
            f"{MAX_OCCURRENCES}); use a larger INTERVAL, COUNT or UNTIL"
        )
