"""The ten-year window around now that schedule dates must fall in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from schedules.errors import InvalidInputError
from schedules.window import check_instant, check_local, check_until, window

NOW = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def test_window_is_ten_calendar_years_each_side_with_29_february_as_the_28th() -> None:
    assert window(NOW) == (
        datetime(2018, 2, 28, 9, 0, tzinfo=UTC),
        datetime(2038, 2, 28, 9, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "value",
    [datetime(2018, 2, 28, 9, 0, tzinfo=UTC), datetime(2038, 2, 28, 10, 0, tzinfo=PARIS)],
)
def test_instants_at_the_edges_are_accepted(value: datetime) -> None:
    check_instant("start", value, now=NOW)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2018, 2, 28, 8, 59, tzinfo=UTC),
        datetime(2038, 2, 28, 9, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_instants_outside_are_refused_with_the_allowed_dates(value: datetime) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_instant("start", value, now=NOW)

    assert (caught.value.field, caught.value.message) == (
        "start",
        "must be within 10 years of now: between 2018-02-28 and 2038-02-28",
    )


@pytest.mark.parametrize("value", [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)])
def test_local_times_at_the_calendar_ends_are_refused_without_overflow(value: datetime) -> None:
    with pytest.raises(InvalidInputError, match="within 10 years"):
        check_local("start", value, PARIS, now=NOW)


def test_until_is_refused_only_after_the_window() -> None:
    check_until("rrule", None, now=NOW)
    check_until("rrule", datetime(2000, 1, 1, tzinfo=UTC), now=NOW)

    with pytest.raises(InvalidInputError, match="leave UNTIL out"):
        check_until("rrule", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), now=NOW)
