"""VTIMEZONE components that every calendar engine reads the same way (RFC 5545 3.6.5).

A VTIMEZONE must give the right offset for every instance of the events that use it, including
the instances of an unbounded RRULE far past the materialised horizon. The layout:

1. one observance for the offset in force where the feed's range starts (``TZOFFSETFROM`` =
   ``TZOFFSETTO``), then one STANDARD or DAYLIGHT component per onset (a single ``DTSTART``, no
   ``RDATE``: ical.js drops the ``DTSTART`` of a component that also has ``RDATE``s) up to the
   end of the range's last year;
2. when the events go on past that (an unbounded rule, or one that ends after its horizon), the
   zone's current yearly rule as two observances with an ``RRULE`` (``FREQ=YEARLY;BYMONTH=3;
   BYDAY=-1SU``), the layout Outlook and Google publish, starting at the first onset after the
   explicit ones. A zone whose changes no such rule describes (they are not on an n-th or last
   weekday, e.g. Asia/Jerusalem) gets explicit onsets for :data:`IRREGULAR_YEARS` more years;
   a zone without daylight time needs nothing more.

``DTSTART`` is the onset in the local time before it (the wall clock read with
``TZOFFSETFROM``), as RFC 5545 defines it. Offsets come from the same zone data (``zoneinfo``)
that placed the occurrences, so a reader of the VTIMEZONE and the service agree.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

#: Years of zone data a yearly rule is checked against before it is published as an RRULE.
RULE_CHECK_YEARS = 30
#: Years of explicit onsets past the range for an open range in a zone with no yearly rule.
IRREGULAR_YEARS = 10
_DAY = timedelta(days=1)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Onset:
    """A change of offset: the UTC instant, the offsets before and after, and what follows."""

    at: datetime
    before: timedelta
    after: timedelta
    daylight: bool
    name: str

    @property
    def local(self) -> datetime:
        """The onset as the wall clock read it just before (RFC 5545: with TZOFFSETFROM)."""
        return (self.at + self.before).replace(tzinfo=None)


def _state(tz: ZoneInfo, instant: datetime) -> tuple[timedelta, bool, str]:
    local = instant.astimezone(tz)
    return local.utcoffset() or timedelta(0), bool(local.dst()), local.tzname() or tz.key


@functools.lru_cache(maxsize=4096)
def _year_onsets(key: str, year: int) -> tuple[Onset, ...]:
    """The zone's changes of offset (or of daylight flag) within one UTC year, to the second."""
    tz = ZoneInfo(key)
    found: list[Onset] = []
    instant = datetime(year, 1, 1, tzinfo=UTC)
    stop = datetime(year + 1, 1, 1, tzinfo=UTC)
    state = _state(tz, instant)
    while instant < stop:
        following = min(instant + _DAY, stop)
        after = _state(tz, following)
        if after != state:
            low, high = instant, following  # state(low) == state, state(high) != state
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle <= low:
                    break
                if _state(tz, middle) == state:
                    low = middle
                else:
                    high = middle
            changed = _state(tz, high)
            found.append(Onset(high, state[0], changed[0], changed[1], changed[2]))
            state = changed
            instant = high
            continue
        instant = following
    return tuple(found)


def onsets(tz: ZoneInfo, first: date, last: date) -> list[Onset]:
    """Every change of the zone from ``first`` to ``last`` (UTC days, inclusive)."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + _DAY
    return [
        onset
        for year in range(first.year, last.year + 1)
        for onset in _year_onsets(tz.key, year)
        if start <= onset.at < stop
    ]


@dataclass(frozen=True)
class YearlyRule:
    """An onset that falls each year on the n-th (or last, ``-1``) weekday of a month."""

    month: int
    week: int
    weekday: int
    time: time
    before: timedelta
    after: timedelta
    daylight: bool
    name: str

    def rrule(self) -> dict[str, object]:
        return {
            "FREQ": "YEARLY",
            "BYMONTH": self.month,
            "BYDAY": f"{self.week}{_WEEKDAYS[self.weekday]}",
        }

    def day_in(self, year: int) -> date:
        days = calendar.monthrange(year, self.month)[1]
        in_month = [
            date(year, self.month, day)
            for day in range(1, days + 1)
            if date(year, self.month, day).weekday() == self.weekday
        ]
        return in_month[self.week - 1] if self.week > 0 else in_month[-1]


def _weeks(day: date) -> set[int]:
    """The n-th weekday (1-5) and, in the month's last seven days, the last (-1)."""
    weeks = {(day.day - 1) // 7 + 1}
    if day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
        weeks.add(-1)
    return weeks


def _shape(onset: Onset) -> tuple[object, ...]:
    """What a yearly rule keeps from year to year: all but the day of the month."""
    local = onset.local
    return (local.month, local.weekday(), local.time(), onset.before, onset.after, onset.daylight)


def _rule_of(onsets_by_year: Sequence[Sequence[Onset]]) -> list[YearlyRule] | None:
    """The yearly rules the onsets of every year follow, or None if none describes them all."""
    shapes = {len(year) for year in onsets_by_year}
    if len(shapes) != 1 or shapes == {0}:
        return None
    rules: list[YearlyRule] = []
    for position in range(shapes.pop()):
        same = [year[position] for year in onsets_by_year]
        first = same[0]
        local = first.local
        weeks = set.intersection(*(_weeks(onset.local.date()) for onset in same))
        if not weeks or any(_shape(onset) != _shape(first) for onset in same):
            return None
        rules.append(
            YearlyRule(
                month=local.month,
                week=max(weeks) if -1 not in weeks else -1,
                weekday=local.weekday(),
                time=local.time(),
                before=first.before,
                after=first.after,
                daylight=first.daylight,
                name=first.name,
            )
        )
    return rules


@functools.lru_cache(maxsize=1024)
def _yearly_rules(key: str, year: int) -> tuple[YearlyRule, ...] | None:
    """The yearly rules the zone follows for :data:`RULE_CHECK_YEARS` from ``year``: ``()``
    when it has no change in those years, None when no such rule describes its changes."""
    following = [_year_onsets(key, each) for each in range(year, year + RULE_CHECK_YEARS)]
    if not any(following):
        return ()
    rules = _rule_of(following)
    return tuple(rules) if rules is not None else None


def _observance(
    *, start: datetime, before: timedelta, after: timedelta, daylight: bool, name: str
) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if daylight else TimezoneStandard()
    component.add("DTSTART", start)
    component.add("TZOFFSETFROM", before)
    component.add("TZOFFSETTO", after)
    component.add("TZNAME", name)
    return component


def vtimezone(tz: ZoneInfo, first: date, last: date, *, open_ended: bool) -> Timezone:
    """The VTIMEZONE for instants from ``first`` to ``last`` (UTC days), and past ``last`` too
    when ``open_ended`` (see the module's docstring for the layout)."""
    component = Timezone()
    component.add("TZID", tz.key)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    offset, daylight, name = _state(tz, start)
    component.add_component(
        _observance(
            start=(start + offset).replace(tzinfo=None),
            before=offset,
            after=offset,
            daylight=daylight,
            name=name,
        )
    )
    explicit = onsets(tz, first, date(last.year, 12, 31))
    rules = _yearly_rules(tz.key, last.year + 1) if open_ended else None
    if open_ended and rules is None:  # no yearly rule: explicit onsets, if there are any
        explicit += onsets(tz, date(last.year + 1, 1, 1), date(last.year + IRREGULAR_YEARS, 12, 31))
    for onset in explicit:
        component.add_component(
            _observance(
                start=onset.local,
                before=onset.before,
                after=onset.after,
                daylight=onset.daylight,
                name=onset.name,
            )
        )
    for rule in rules or []:
        day = rule.day_in(last.year + 1)
        observance = _observance(
            start=datetime.combine(day, rule.time),
            before=rule.before,
            after=rule.after,
            daylight=rule.daylight,
            name=rule.name,
        )
        observance.add("RRULE", rule.rrule())
        component.add_component(observance)
    return component
