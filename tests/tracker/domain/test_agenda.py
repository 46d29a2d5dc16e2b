"""Sessions as a reader meets them: times in a zone that is named (Babel's CLDR cities), the Join
window, and why a session attended earned no credit (SPEC 2, steps 4 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.wording import number
from tracker.domain.agenda import NoCredit, joinable, why_no_credit
from tracker.domain.credit_rules import CreditRules
from tracker.domain.localtime import when_zoned, zone_name

START = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
END = START + timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "french", "english"),
    [
        ("Europe/Paris", "lundi 7 décembre 2026 à 12:30 (heure de Paris)", "Monday 7 December 2026 at 12:30 (Paris time)"),
        ("America/New_York", "lundi 7 décembre 2026 à 06:30 (heure de New York)", "Monday 7 December 2026 at 06:30 (New York time)"),
        ("Africa/Cairo", "lundi 7 décembre 2026 à 13:30 (heure du Caire)", "Monday 7 December 2026 at 13:30 (Cairo time)"),
        ("Europe/Amsterdam", "lundi 7 décembre 2026 à 12:30 (heure d’Amsterdam)", "Monday 7 December 2026 at 12:30 (Amsterdam time)"),
        ("UTC", "lundi 7 décembre 2026 à 11:30 (UTC)", "Monday 7 December 2026 at 11:30 (UTC)"),
    ],
)  # fmt: skip
def test_a_time_names_its_zone_in_the_readers_language(
    zone: str, french: str, english: str
) -> None:
    assert (when_zoned(START, zone, "fr"), when_zoned(START, zone, "en")) == (french, english)


def test_zone_names_follow_cldr_not_the_tz_identifier() -> None:
    assert zone_name("Asia/Kolkata", "en") == "Kolkata time"
    assert zone_name("Asia/Kolkata", "fr") == "heure de Calcutta"
    assert zone_name("Etc/GMT+5", "fr") == "GMT+5"


@pytest.mark.parametrize(
    ("zone", "french", "english"),
    [
        # CLDR has no city of its own for these: the zone's name gives it
        ("Europe/Paris", "heure de Paris", "Paris time"),
        ("America/Toronto", "heure de Toronto", "Toronto time"),
        ("America/Vancouver", "heure de Vancouver", "Vancouver time"),
        # CLDR's own city for the zone, in the reader's language
        ("Europe/London", "heure de Londres", "London time"),
        ("America/Detroit", "heure de Détroit", "Detroit time"),
        ("America/St_Johns", "heure de Saint-Jean de Terre-Neuve", "St. John’s time"),
        # CLDR folds these into another zone (Montréal into Toronto, Belfast into London...):
        # each is named by its own place, Montréal with its accent
        ("America/Montreal", "heure de Montréal", "Montréal time"),
        ("America/Thunder_Bay", "heure de Thunder Bay", "Thunder Bay time"),
        ("Europe/Belfast", "heure de Belfast", "Belfast time"),
        ("Asia/Tel_Aviv", "heure de Tel Aviv", "Tel Aviv time"),
        # ... unless the name only spells the same place the old way: CLDR's current name
        ("Europe/Kiev", "heure de Kiev", "Kyiv time"),
        ("Asia/Calcutta", "heure de Calcutta", "Kolkata time"),
        ("Asia/Saigon", "heure d’Hô-Chi-Minh-Ville", "Ho Chi Minh City time"),
        # ... or names no place: the zone it links to
        ("US/Eastern", "heure de New York", "New York time"),
        ("Canada/Eastern", "heure de Toronto", "Toronto time"),
        ("Australia/North", "heure de Darwin", "Darwin time"),
    ],
)  # fmt: skip
def test_a_zone_is_named_by_its_own_place(zone: str, french: str, english: str) -> None:
    assert (zone_name(zone, "fr"), zone_name(zone, "en")) == (french, english)


def test_numbers_follow_the_language() -> None:
    assert (number(6.25, "fr"), number(6.25, "en"), number(60, "fr")) == ("6,25", "6.25", "60")


def _occurrence(status: OccurrenceStatus = OccurrenceStatus.SCHEDULED) -> Occurrence:
    return Occurrence(id=1, series_id=1, recurrence_id=START, start=START, end=END, status=status)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(-16, False), (-15, True), (-14, True), (0, True), (59, True), (60, False), (61, False)],
)
def test_the_join_window_opens_15_minutes_before_the_start_and_closes_at_the_end(
    minutes: int, expected: bool
) -> None:
    now = START + timedelta(minutes=minutes)

    assert joinable(_occurrence(), now) is expected
    assert joinable(_occurrence(OccurrenceStatus.CANCELLED), now) is False


def _series(**overrides: object) -> Series:
    values: dict[str, object] = {
        "id": 1,
        "uid": "u-1@cme-tracker",
        "slug": "s",
        "title": "T",
        "timezone": "Europe/Paris",
        "start_local": datetime(2026, 12, 7, 12, 30),  # noqa: DTZ001  # local time, as stored
        "duration_minutes": 60,
        "join_url": "https://zoom.us/j/1",
        "credits": [{"type": "AMA_PRA_1", "max": 1.0}],
        "min_attendance_percent": 75.0,
        "horizon_end": datetime(2027, 12, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return Series.model_validate(values)


AFTER = END + timedelta(hours=1)


@pytest.mark.parametrize(
    ("seconds", "credits", "series", "now", "expected"),
    [
        (2700, {"AMA_PRA_1": 0.75}, _series(), AFTER, None),
        (3600, {}, _series(credits=[]), AFTER, NoCredit("no_designation", 60.0)),
        (600, {"AMA_PRA_1": 0.0}, _series(), START + timedelta(minutes=10), NoCredit("in_progress", 10.0)),
        (0, {"AMA_PRA_1": 0.0}, _series(), AFTER, NoCredit("absent", 0.0)),
        (1200, {"AMA_PRA_1": 0.0}, _series(), AFTER, NoCredit("below_threshold", 20.0, 45.0, 75.0)),
        (2699, {"AMA_PRA_1": 0.0}, _series(), AFTER, NoCredit("below_threshold", 44.98, 45.0, 75.0)),
        (300, {"AMA_PRA_1": 0.0}, _series(min_attendance_percent=None), AFTER, NoCredit("too_short", 5.0)),
    ],
)  # fmt: skip
def test_a_zero_credit_row_gets_its_reason(
    seconds: int,
    credits: dict[str, float],
    series: Series,
    now: datetime,
    expected: NoCredit | None,
) -> None:
    rules = CreditRules(
        designations=tuple(dict(c) for c in series.credits),
        min_attendance_percent=series.min_attendance_percent,
        roundings={},
    )
    found = why_no_credit(
        seconds=seconds, credits=credits, start=START, end=END, rules=rules, now=now
    )

    assert found == expected
