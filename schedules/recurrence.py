"""RFC 5545 recurrence rules: validation, bounds and expansion in local wall-clock time.

Occurrences are expanded as naive local datetimes and only then placed in the series' timezone,
so a Monday 12:30 Europe/Paris series stays at 12:30 on both sides of a DST change. A local time
that falls in a spring-forward gap is read with the offset before the gap, as RFC 5545 says.

A series has at most one session per local day: rules with several times a day are refused
on their parts and, whatever their spelling, on their expansion. Expansion is bounded: it stops
scanning once past the date it was asked for, so an impossible rule (every 30 February) ends
at once with no occurrence instead of scanning to year 9999 in a worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

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
#: Parts that pick times within a day: one value each at most (one session per day).
TIME_OF_DAY_PARTS = ("BYHOUR", "BYMINUTE")
#: A last resort: the bounded scan stops long before this on any rule this service accepts.
EXPANSION_TIME_LIMIT_SECONDS = 2.0
_expander = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="rrule")


#: Names zoneinfo opens that are no place's time: tzdata's placeholder zone (``Factory``, whose
#: offset is "-00") and links to whatever the machine is set to (``localtime``, ``posixrules``).
#: Pages cannot name them, and a series or a physician in one would be in a zone nobody chose.
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def timezone_names() -> frozenset[str]:
    """Every IANA zone name a series or a physician may have: those of the installed tz
    database (the system's, else the ``tzdata`` package), less :data:`_NOT_PLACES`. Only names
    from the list: zoneinfo also opens any file below its folders (``right/Europe/Paris``, with
    leap seconds, is 27 seconds off)."""
    return frozenset(available_timezones() - _NOT_PLACES)


def resolve_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name, or :class:`UnknownTimezoneError`."""
    if name not in timezone_names():
        raise UnknownTimezoneError(name)
    return ZoneInfo(name)


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
    for part in TIME_OF_DAY_PARTS:
        if len(parsed.get(part) or []) > 1:
            raise InvalidRuleError(
                f"{part} takes one value: a series has at most one session per day "
                "(create one series per time of day)"
            )
    if "COUNT" in parsed and "UNTIL" in parsed:
        raise InvalidRuleError("COUNT and UNTIL cannot both be given")
    if "UNTIL" in parsed:
        parsed["UNTIL"] = [_until_utc(parsed["UNTIL"][0], tz)]
    return _recur_text(parsed)


def _until_utc(until: datetime | date, tz: ZoneInfo) -> datetime:
    """UNTIL in UTC: a DATE includes the whole local day, a floating time is local."""
    if not isinstance(until, datetime):
        until = datetime(until.year, until.month, until.day, 23, 59, 59, tzinfo=tz)
    elif until.tzinfo is None:
        until = until.replace(tzinfo=tz)
    try:
        return until.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
        raise InvalidRuleError(f"UNTIL {until.date().isoformat()} is out of range") from None


def rule_until(rule: str) -> datetime | None:
    """The UNTIL of a canonical rule (aware, UTC), or None."""
    values = vRecur.from_ical(rule).get("UNTIL")
    return values[0] if values else None


def _recur_text(parts: vRecur) -> str:
    return bytes(vRecur(parts).to_ical()).decode("ascii")  # type: ignore[no-untyped-call]  # icalendar leaves to_ical untyped


class _ScanPassedLimitError(Exception):
    """The scan went past the last date wanted: every occurrence it could still give is later."""


class _ScanTimedOutError(Exception):
    """The scan ran past :data:`EXPANSION_TIME_LIMIT_SECONDS` (a last resort)."""


class _BoundedRule(rrule):
    """dateutil's rule with a scan that stops past a date, or at a deadline.

    dateutil scans period by period for dates passing every BY* filter and, when none ever
    does (30 February), goes on to year 9999 without yielding, so its thread cannot be stopped
    from outside. Its scan rebuilds per-month masks (``_iterinfo.rebuild``) at most once per
    calendar month it reaches, reading ``_bynweekday`` once or twice each time: those reads are
    counted here, and once there have been more than two per month up to ``limit`` the scan is
    past ``limit`` and is stopped.
    """

    def __init__(self, *, limit_months: int, deadline: float, **kwargs: Any) -> None:
        self._reads_left: int | None = None  # the constructor's own reads are not counted
        self._deadline = deadline
        super().__init__(**kwargs)
        self._reads_left = 2 * (limit_months + 2)

    @property
    def _bynweekday(self) -> Any:
        if self._reads_left is not None:
            self._reads_left -= 1
            if self._reads_left < 0:
                raise _ScanPassedLimitError
            if time.monotonic() > self._deadline:
                raise _ScanTimedOutError
        return self._nth_weekdays

    @_bynweekday.setter
    def _bynweekday(self, value: Any) -> None:
        self._nth_weekdays = value


def _months_between(first: datetime, last: datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _dateutil_rule(rule: str, start_local: datetime, tz: ZoneInfo, until_local: datetime) -> rrule:
    """dateutil works on naive local times: UNTIL is turned back to local wall-clock time.

    The rule is bounded to scan no further than ``until_local`` (see :class:`_BoundedRule`).
    """
    parsed = vRecur.from_ical(rule)
    if "UNTIL" in parsed:
        until = parsed["UNTIL"][0]
        parsed["UNTIL"] = [until.astimezone(tz).replace(tzinfo=None)]
    result = rrulestr(_recur_text(parsed), dtstart=start_local)
    if not isinstance(result, rrule):  # pragma: no cover - a single RRULE yields an rrule
        raise InvalidRuleError("the rule must be a single RRULE")
    parsed_rule: Any = result  # its constructor arguments are in (untyped) private attributes
    # The same rule, rebuilt as rrule.replace() does from the arguments dateutil keeps.
    return _BoundedRule(
        limit_months=_months_between(start_local, until_local),
        deadline=time.monotonic() + EXPANSION_TIME_LIMIT_SECONDS,
        freq=parsed_rule._freq,
        dtstart=parsed_rule._dtstart,
        interval=parsed_rule._interval,
        wkst=parsed_rule._wkst,
        count=parsed_rule._count,
        until=parsed_rule._until,
        **parsed_rule._original_rule,
    )


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Place a naive wall-clock time in ``tz`` and convert it to UTC (gap: offset before it)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _expand_local(
    rule: str | None, start_local: datetime, tz: ZoneInfo, until_local: datetime
) -> list[datetime]:
    """Local starts up to ``until_local``, at most 1,001, from a scan bounded in dates and time."""
    if rule is None:
        return [start_local] if start_local <= until_local else []
    found: list[datetime] = []
    try:
        for occurrence in _iterate(_dateutil_rule(rule, start_local, tz, until_local)):
            if occurrence > until_local:
                break
            found.append(occurrence)
            if len(found) > MAX_OCCURRENCES:
                break
    except _ScanPassedLimitError:
        pass
    except _ScanTimedOutError:
        raise InvalidRuleError(_TOO_LONG) from None
    return found


_TOO_LONG = "the rule takes too long to expand; is it possible at all?"
#: How far :func:`first_instance` looks for the rule's first date.
FIRST_INSTANCE_SCAN = timedelta(days=3660)


def first_instance(rule: str, start_local: datetime, tz: ZoneInfo) -> datetime | None:
    """The first local start ``rule`` gives from ``start_local`` (dateutil's reading, which the
    stored occurrences follow: a start off the rule is not an instance), or None when the rule
    gives none within ten years (or takes too long to say)."""
    limit = start_local + FIRST_INSTANCE_SCAN
    try:
        for found in _iterate(_dateutil_rule(rule, start_local, tz, limit)):
            return found if found <= limit else None
    except (_ScanPassedLimitError, _ScanTimedOutError, ValueError):
        return None
    return None


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
            asyncio.wrap_future(future), timeout=EXPANSION_TIME_LIMIT_SECONDS + 1
        )
    except TimeoutError:  # the pool was busy: the scan itself stops at its own deadline
        raise InvalidRuleError(_TOO_LONG) from None
    except ValueError as exc:  # dateutil's own checks, e.g. BYMONTHDAY=40
        raise InvalidRuleError(str(exc)) from None
    return [to_utc(start, tz) for start in local_starts]


def check_expansion(starts: list[datetime], *, has_rule: bool, tz: ZoneInfo) -> None:
    """Refuse rules with no occurrence, more than :data:`MAX_OCCURRENCES` within the horizon,
    or two sessions on one local day (however the rule is spelled)."""
    if not starts:
        raise InvalidRuleError("the rule produces no occurrence from the start date")
    if has_rule and len(starts) > MAX_OCCURRENCES:
        raise InvalidRuleError(
            f"the rule produces more than {MAX_OCCURRENCES} occurrences within the horizon "
            f"(until {(starts[MAX_OCCURRENCES - 1]).date().isoformat()} already has "
            f"{MAX_OCCURRENCES}); use a larger INTERVAL, COUNT or UNTIL"
        )
    days = [start.astimezone(tz).date() for start in starts]
    for earlier, later in itertools.pairwise(days):
        if earlier == later:
            raise InvalidRuleError(
                f"the rule gives several sessions on {later.isoformat()}; a series has at most "
                "one session per day (create one series per time of day)"
            )
