"""Building iCalendar from rows, without a database: text safety and determinism."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from schedules.ical import FeedEntry, FeedMeta, build_calendar, clean_text, serialize
from schedules.models import Occurrence, OccurrenceStatus, Series

META = FeedMeta(
    name="Feed", description="", source_url="https://cme.example.org/calendar.ics", provider="IDS"
)
STAMP = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _series(**overrides: object) -> Series:
    values: dict[str, object] = {
        "id": 1,
        "uid": "u-1@cme-tracker",
        "slug": "s",
        "title": "T",
        "description": "",
        "timezone": "Europe/Paris",
        "start_local": datetime(2027, 3, 1, 12, 30),
        "duration_minutes": 60,
        "rrule": "FREQ=WEEKLY;COUNT=3;BYDAY=MO",
        "join_url": "https://zoom.us/j/1",
        "credits": [],
        "reminders": [],
        "language": "en",
        "horizon_end": datetime(2027, 4, 1, tzinfo=UTC),
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    values.update(overrides)
    return Series.model_validate(values)


@pytest.mark.parametrize(
    ("given", "cleaned"),
    [
        ("a\r\nb", "a\nb"),
        ("a\rb", "a\nb"),
        ("a\u2028b", "a\nb"),
        ("a\u2029b", "a\nb"),
        ("a\x85b", "a\nb"),
        ("a\vb\fc", "a\nb\nc"),
        ("a\x1cb\x1dc\x1ed", "a\nb\nc\nd"),
        ("a\n\r\nb", "a\n\nb"),
        ("lone\ud800surrogate", "lonesurrogate"),
        ("bidi\u202eoverride\u2066", "bidioverride"),
        ("a\tb", "a b"),
        ("bell\x07 esc\x1b del\x7f", "bell esc del"),
        ("zero\u200bwidth", "zerowidth"),
        ("; , \\ : ok", "; , \\ : ok"),
    ],
)
def test_clean_text(given: str, cleaned: str) -> None:
    assert clean_text(given) == cleaned


def test_same_rows_give_same_bytes() -> None:
    entries = [FeedEntry(_series(), [])]

    assert serialize(build_calendar(entries, META)) == serialize(build_calendar(entries, META))


def test_cancelled_occurrence_becomes_exdate_and_moved_one_an_override() -> None:
    series = _series()
    rid = datetime(2027, 3, 8, 11, 30, tzinfo=UTC)
    moved_rid = datetime(2027, 3, 15, 11, 30, tzinfo=UTC)
    entries = [
        FeedEntry(
            series,
            [
                Occurrence(
                    series_id=1,
                    recurrence_id=rid,
                    start=rid,
                    end=rid,
                    status=OccurrenceStatus.CANCELLED,
                    updated_at=STAMP,
                ),
                Occurrence(
                    series_id=1,
                    recurrence_id=moved_rid,
                    start=datetime(2027, 3, 16, 8, tzinfo=UTC),
                    end=datetime(2027, 3, 16, 9, tzinfo=UTC),
                    status=OccurrenceStatus.MOVED,
                    sequence=4,
                    updated_at=STAMP,
                ),
            ],
        )
    ]

    master, override = Calendar.from_ical(serialize(build_calendar(entries, META))).walk("VEVENT")

    assert [d.dt for d in master["EXDATE"].dts] == [rid]
    assert (override["RECURRENCE-ID"].dt, override.start, override["SEQUENCE"]) == (
        moved_rid,
        datetime(2027, 3, 16, 8, tzinfo=UTC),
        4,
    )


def test_empty_feed_is_still_a_valid_calendar() -> None:
    calendar = Calendar.from_ical(serialize(build_calendar([], META)))

    assert (calendar.walk("VEVENT"), calendar.walk("VTIMEZONE")) == ([], [])
