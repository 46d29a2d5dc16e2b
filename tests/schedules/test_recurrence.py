"""Recurrence rules: canonical form, refusals, and wall-clock expansion across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules.recurrence
from schedules.errors import InvalidRuleError, UnknownTimezoneError
from schedules.recurrence import (
    _expand_local,
    check_expansion,
    expand,
    normalise_rule,
    resolve_timezone,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("RRULE:freq=weekly;byday=mo", "FREQ=WEEKLY;BYDAY=MO"),
        ("FREQ=WEEKLY;UNTIL=20270301;BYDAY=MO", "FREQ=WEEKLY;UNTIL=20270301T225959Z;BYDAY=MO"),
        (
            "FREQ=WEEKLY;UNTIL=20270301T120000;BYDAY=MO",
            "FREQ=WEEKLY;UNTIL=20270301T110000Z;BYDAY=MO",
        ),
        ("FREQ=MONTHLY;BYDAY=1MO", "FREQ=MONTHLY;BYDAY=1MO"),
    ],
)
def test_normalise_rule_gives_canonical_text(given: str, canonical: str) -> None:
    assert normalise_rule(given, PARIS) == canonical


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "single RRULE value"),
        ("FREQ=HOURLY", "FREQ=HOURLY is not allowed"),
        ("FREQ=MINUTELY", "FREQ=MINUTELY is not allowed"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not allowed"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a single whole number of at least 1"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a single whole number of at least 1"),
        ("BYDAY=MO", "FREQ is required exactly once"),
        ("FREQ=WEEKLY;RDATE=20270101", "unsupported part(s): RDATE"),
        ("FREQ=DAILY;BYHOUR=9,10", "BYHOUR takes one value"),
        ("FREQ=WEEKLY;BYMINUTE=0,30", "BYMINUTE takes one value"),
        ("FREQ=WEEKLY;UNTIL=00010101T000000", "UNTIL 0001-01-01 is out of range"),
    ],
)
def test_normalise_rule_refuses(rule: str, message: str) -> None:
    with pytest.raises(InvalidRuleError) as caught:
        normalise_rule(rule, PARIS)

    assert message in str(caught.value)


async def test_expansion_keeps_local_time_across_both_dst_changes() -> None:
    starts = await expand(
        rule="FREQ=WEEKLY;BYDAY=MO",
        start_local=datetime(2027, 3, 15, 12, 30),
        tz=PARIS,
        until=datetime(2027, 11, 10, tzinfo=UTC),
    )

    assert {start.astimezone(PARIS).strftime("%H:%M") for start in starts} == {"12:30"}
    assert {start.astimezone(UTC).strftime("%H:%M") for start in starts} == {"11:30", "10:30"}
    assert (starts[0].hour, starts[2].hour, starts[-1].hour) == (11, 10, 11)


async def test_time_in_spring_gap_uses_offset_before_the_gap() -> None:
    (start,) = await expand(
        rule="FREQ=DAILY;COUNT=1",
        start_local=datetime(2027, 3, 14, 2, 30),
        tz=NEW_YORK,
        until=datetime(2027, 12, 31, tzinfo=UTC),
    )

    assert start == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)  # 02:30 EST, shown as 03:30 EDT


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31;BYDAY=1MO",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=9;BYMINUTE=5",
    ],
)
async def test_impossible_rule_expands_to_nothing_instead_of_scanning_to_year_9999(
    rule: str,
) -> None:
    starts = await expand(
        rule=rule,
        start_local=datetime(2027, 1, 4, 12, 30),
        tz=PARIS,
        until=datetime(2028, 2, 1, tzinfo=UTC),
    )

    assert starts == []


def test_a_scan_past_its_deadline_stops_in_its_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedules.recurrence, "EXPANSION_TIME_LIMIT_SECONDS", -1.0)

    with pytest.raises(InvalidRuleError, match="takes too long to expand"):
        _expand_local(
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            datetime(2027, 1, 4, 12, 30),
            PARIS,
            datetime(9000, 1, 1),
        )


#: Rules that are possible (no 30 February, no second of one), so plain dateutil ends quickly.
RULE_PARTS = st.fixed_dictionaries(
    {"FREQ": st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])},
    optional={
        "INTERVAL": st.integers(1, 5).map(str),
        "COUNT": st.integers(1, 60).map(str),
        "BYMONTH": st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True),
        "BYMONTHDAY": st.lists(
            st.integers(1, 28) | st.integers(-28, -1), min_size=1, max_size=3, unique=True
        ),
        "BYDAY": st.lists(
            st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "BYSETPOS": st.sampled_from(["1", "-1"]),
        "WKST": st.sampled_from(["MO", "SU"]),
    },
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    parts=RULE_PARTS,
    start=st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
)
def test_bounded_scan_finds_what_dateutil_finds_up_to_the_limit(
    parts: dict[str, Any], start: datetime
) -> None:
    rule = ";".join(
        f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}"
        for name, value in parts.items()
    )
    until = start + timedelta(days=800)
    expected = rrulestr(rule, dtstart=start).between(start, until, inc=True)[:1001]

    assert _expand_local(rule, start, PARIS, until) == expected


async def test_dateutil_value_errors_become_rule_errors() -> None:
    with pytest.raises(InvalidRuleError):
        await expand(
            rule="FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
            start_local=datetime(2027, 1, 4, 12, 30),
            tz=PARIS,
            until=datetime(2028, 2, 1, tzinfo=UTC),
        )


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "",
        " Europe/Paris",
        "../etc/passwd",
        "/etc/localtime",
        # files of the tz database that are no place's time: a placeholder, the machine's own
        # setting, and copies of real zones with leap seconds (27 s off) or POSIX rules
        "Factory",
        "localtime",
        "posixrules",
        "right/Europe/Paris",
        "posix/Europe/Paris",
    ],
)
def test_unknown_timezones_are_refused(name: str) -> None:
    with pytest.raises(UnknownTimezoneError):
        resolve_timezone(name)


@pytest.mark.parametrize("name", ["Europe/Paris", "UTC", "Etc/GMT-14", "US/Pacific", "Europe/Kiev"])
def test_every_zone_of_the_database_is_accepted_links_included(name: str) -> None:
    assert resolve_timezone(name).key == name


def test_two_sessions_on_one_local_day_are_refused_whatever_the_rule() -> None:
    starts = [datetime(2027, 3, 1, 8, 0, tzinfo=UTC), datetime(2027, 3, 1, 22, 30, tzinfo=UTC)]

    with pytest.raises(InvalidRuleError, match="several sessions on 2027-03-01"):
        check_expansion(starts, has_rule=True, tz=PARIS)
    check_expansion(starts, has_rule=True, tz=ZoneInfo("Pacific/Kiritimati"))  # two local days
