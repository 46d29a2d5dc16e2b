"""The series form's recurrence picker: its fields make the rule the organiser means, and a
stored rule comes back as the same choices (or as the raw rule when the picker cannot show it)."""

from __future__ import annotations

from datetime import date

import pytest

from tracker.http.pages.recurrence import PickerError, picker_values, rule_from_picker

pytestmark = pytest.mark.any_engine

START = "2027-01-12T18:00"  # the second Tuesday of January 2027


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"repeat": "none"}, None),
        ({"repeat": "daily", "ends": "count", "count": "5"}, "FREQ=DAILY;COUNT=5"),
        ({"repeat": "weekly"}, "FREQ=WEEKLY;BYDAY=TU"),
        (
            {"repeat": "weekly", "day:MO": "1", "day:TH": "1", "interval": "2"},
            "FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2",
        ),
        ({"repeat": "monthly_day"}, "FREQ=MONTHLY;BYMONTHDAY=12"),
        ({"repeat": "monthly_day", "monthday": "31"}, "FREQ=MONTHLY;BYMONTHDAY=31"),
        (
            {
                "repeat": "monthly_nth",
                "setpos": "2",
                "setday": "TU",
                "ends": "until",
                "until": "2027-06-30",
            },
            "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20270630",
        ),
        ({"repeat": "monthly_nth", "setpos": "-1", "setday": "FR"}, "FREQ=MONTHLY;BYDAY=-1FR"),
        ({"repeat": "custom", "rrule": " FREQ=YEARLY "}, "FREQ=YEARLY"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=MO"}, "FREQ=WEEKLY;BYDAY=MO"),  # an older page, the API's way
    ],
)
def test_the_picker_writes_the_rule(fields: dict[str, str], rule: str | None) -> None:
    assert rule_from_picker({"start": START, **fields}) == rule


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"repeat": "weekly", "interval": "0"}, "interval"),
        ({"repeat": "weekly", "interval": "x" * 500}, "interval"),
        ({"repeat": "daily", "ends": "count", "count": "100000"}, "count"),
        ({"repeat": "daily", "ends": "until", "until": "June"}, "until"),
        ({"repeat": "daily", "ends": "until", "until": "2026-01-01"}, "until"),
        ({"repeat": "monthly_day", "monthday": "32"}, "monthday"),
        ({"repeat": "monthly_nth", "setpos": "5", "setday": "TU"}, "setpos"),
        ({"repeat": "hourly"}, "repeat"),
        ({"repeat": "daily", "ends": "<script>"}, "ends"),
    ],
)
def test_a_bad_choice_names_its_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(PickerError) as raised:
        rule_from_picker({"start": START, **fields})
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (None, {"repeat": "none"}),
        ("FREQ=DAILY;COUNT=5", {"repeat": "daily", "ends": "count", "count": "5"}),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
            {"repeat": "weekly", "interval": "2", "days": ["MO", "TH"]},
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=12", {"repeat": "monthly_day", "monthday": "12"}),
        (
            "FREQ=MONTHLY;UNTIL=20270630T215959Z;BYDAY=2TU",
            {
                "repeat": "monthly_nth",
                "setpos": "2",
                "setday": "TU",
                "ends": "until",
                "until": "2027-06-30",
            },
        ),
        ("FREQ=YEARLY;BYMONTH=3", {"repeat": "custom"}),
        ("FREQ=MONTHLY;BYDAY=MO,TU", {"repeat": "custom"}),
    ],
)
def test_a_stored_rule_comes_back_as_the_choices(
    rule: str | None, expected: dict[str, object]
) -> None:
    values = picker_values(rule, date(2027, 1, 12), "Europe/Paris")
    assert {k: values[k] for k in expected} == expected
    assert values["rrule"] == (rule or "")


def test_every_choice_the_picker_reads_back_writes_the_same_rule() -> None:
    for rule in ("FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2", "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20270630"):
        values = picker_values(rule, date(2027, 1, 12), "Europe/Paris")
        fields = {k: str(v) for k, v in values.items() if k != "days"}
        fields |= {f"day:{d}": "1" for d in values["days"]}
        assert rule_from_picker({"start": START, **fields}) == rule
