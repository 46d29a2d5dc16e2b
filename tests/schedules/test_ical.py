"""Building iCalendar from rows, without a database: text safety and determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from schedules.errors import UnshowableDateError
from schedules.ical import (
    FeedEntry,
    FeedMeta,
    build_calendar,
    build_invitation,
    clean_text,
    serialize,
)
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
    assert (override["RECURRENCE-ID"].dt, override.start, override["SEQUENCE"]) == (  # type: ignore[attr-defined]  # walk() types Events as Component
        moved_rid,
        datetime(2027, 3, 16, 8, tzinfo=UTC),
        4,
    )


def test_empty_feed_is_still_a_valid_calendar() -> None:
    calendar = Calendar.from_ical(serialize(build_calendar([], META)))

    assert (calendar.walk("VEVENT"), calendar.walk("VTIMEZONE")) == ([], [])


def _occurrence(start: datetime, *, status: str = OccurrenceStatus.MOVED) -> Occurrence:
    return Occurrence(
        id=9,
        series_id=1,
        recurrence_id=datetime(2027, 3, 8, 11, 30, tzinfo=UTC),
        start=start,
        end=start + timedelta(hours=1),
        status=OccurrenceStatus(status),
        updated_at=STAMP,
    )


def test_an_occurrence_no_calendar_can_show_is_hidden_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    far = _occurrence(datetime(9999, 12, 31, 22, 59, tzinfo=UTC))

    raw = serialize(build_calendar([FeedEntry(_series(), [far])], META))

    (master,) = Calendar.from_ical(raw).walk("VEVENT")
    assert [d.dt for d in master["EXDATE"].dts] == [far.recurrence_id]
    assert "leave out occurrence 9 of series 1" in caplog.text


def test_a_series_no_calendar_can_show_is_left_out_and_the_others_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = [
        FeedEntry(_series(id=1, start_local=datetime(1, 1, 1)), []),
        FeedEntry(_series(id=2, uid="u-2@cme-tracker", rrule="FREQ=WEEKLY;BYDAY=XX"), []),
        FeedEntry(_series(id=3, uid="u-3@cme-tracker", timezone="Mars/Olympus"), []),
        FeedEntry(_series(id=4, uid="u-4@cme-tracker"), []),
    ]

    calendar = Calendar.from_ical(serialize(build_calendar(entries, META)))

    assert [str(event["UID"]) for event in calendar.walk("VEVENT")] == ["u-4@cme-tracker"]
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    for series_id in (1, 2, 3):
        assert f"feeds leave out series {series_id}" in caplog.text


def test_an_invitation_for_a_date_no_calendar_can_show_is_refused_by_name() -> None:
    with pytest.raises(UnshowableDateError, match="occurrence 9"):
        build_invitation(
            _series(),
            _occurrence(datetime(9999, 12, 31, 22, 59, tzinfo=UTC)),
            META,
            method="REQUEST",
            organizer="webinars@cme.example.org",
            attendee="jeanne@example.org",
            stamp=STAMP,
        )


# One session as a file to add to a calendar ----------------------------------------------------


def test_a_session_file_is_one_event_every_reader_shows_at_its_time() -> None:
    from schedules.ical import build_occurrence_file
    from tests.calendar_readers import Instance, read_with_every_reader

    moved = _occurrence(datetime(2027, 3, 9, 17, 0, tzinfo=UTC), status=OccurrenceStatus.MOVED)
    body = build_occurrence_file(_series(), moved, META)

    calendar = Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    shown = read_with_every_reader(
        body, start=datetime(2027, 3, 1, tzinfo=UTC), end=datetime(2027, 4, 1, tzinfo=UTC)
    )
    expected = Instance(moved.start, moved.end, "u-1@cme-tracker")
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == "u-1@cme-tracker"  # the invitations' event, not a second one
    assert event.decoded("RECURRENCE-ID") == moved.recurrence_id
    assert {reader: [i.start for i in found] for reader, found in shown.items()} == {
        reader: [expected.start] for reader in shown
    }
    assert body == build_occurrence_file(_series(), moved, META)  # same rows, same bytes


def test_a_cancelled_session_file_says_so_and_an_unshowable_one_is_refused() -> None:
    from schedules.ical import build_occurrence_file

    cancelled = _occurrence(
        datetime(2027, 3, 8, 11, 30, tzinfo=UTC), status=OccurrenceStatus.CANCELLED
    )
    (event,) = Calendar.from_ical(build_occurrence_file(_series(), cancelled, META)).walk("VEVENT")

    assert str(event["STATUS"]) == "CANCELLED"
    with pytest.raises(UnshowableDateError, match="occurrence 9"):
        build_occurrence_file(
            _series(), _occurrence(datetime(9999, 12, 31, 22, 59, tzinfo=UTC)), META
        )
