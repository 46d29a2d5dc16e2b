"""Recurrence rules: canonical form, refusals, and wall-clock expansion across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from schedules.errors import InvalidRuleError, UnknownTimezoneError
from schedules.recurrence import expand, normalise_rule, resolve_timezone

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


async def test_impossible_daily_rule_is_refused_instead_of_spinning() -> None:
    with pytest.raises(InvalidRuleError, match="takes too long to expand"):
        await expand(
            rule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            start_local=datetime(2027, 1, 4, 12, 30),
            tz=PARIS,
            until=datetime(2028, 2, 1, tzinfo=UTC),
        )


async def test_dateutil_value_errors_become_rule_errors() -> None:
    with pytest.raises(InvalidRuleError):
        await expand(
            rule="FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
            start_local=datetime(2027, 1, 4, 12, 30),
            tz=PARIS,
            until=datetime(2028, 2, 1, tzinfo=UTC),
        )


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", " Europe/Paris", "../etc/passwd", "/etc/localtime"]
)
def test_unknown_timezones_are_refused(name: str) -> None:
    with pytest.raises(UnknownTimezoneError):
        resolve_timezone(name)
