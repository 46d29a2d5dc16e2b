"""Properties of the iCalendar builders for any text: they always serialise, parse back with
icalendar and recurring_ical_events, and give the text back modulo :func:`clean_text`.

The documented cleaning: every line break becomes one newline, a tab a space, other control,
format and surrogate characters are removed; an event's description starts with the series'
description trimmed of surrounding whitespace.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from recurring_ical_events import of

from schedules.ical import (
    FeedEntry,
    FeedMeta,
    build_calendar,
    build_invitation,
    clean_text,
    serialize,
)
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.wording import CreditLabels
from tests.hostile_text import LINE_BREAKS, hostile_text
from tests.ical_text import text_of

STAMP = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ANY = hostile_text(max_size=20_000, nul=True, surrogates=True)
SHORT = hostile_text(max_size=300, nul=True, surrogates=True)
PROPERTIES = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def _series(title: str, description: str, language: str = "fr") -> Series:
    return Series.model_validate(
        {
            "id": 1,
            "uid": "u-1@cme-tracker",
            "slug": "s",
            "title": title,
            "description": description,
            "timezone": "Europe/Paris",
            "start_local": datetime(2027, 3, 1, 12, 30),
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;COUNT=4;BYDAY=MO",
            "join_url": "https://zoom.us/j/81234567890",
            "credits": [{"type": "AMA_PRA_1", "max": 1.0}, {"type": "DPC_HOURS", "max": 1.0}],
            "reminders": [],
            "language": language,
            "horizon_end": datetime(2027, 4, 1, tzinfo=UTC),
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )


def _moved(series: Series) -> Occurrence:
    return Occurrence(
        id=7,
        series_id=series.id or 0,
        recurrence_id=datetime(2027, 3, 8, 11, 30, tzinfo=UTC),
        start=datetime(2027, 3, 9, 17, 0, tzinfo=UTC),
        end=datetime(2027, 3, 9, 18, 0, tzinfo=UTC),
        status=OccurrenceStatus.MOVED,
        sequence=2,
        updated_at=STAMP,
    )


def assert_well_formed(raw: bytes) -> Calendar:
    """Folded lines of at most 75 octets, CRLF only, no control character left; parses."""
    text = raw.decode("utf-8")
    lines = raw.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) <= 75 for line in lines)
    assert not [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\r\n"]
    assert "\r" not in text.replace("\r\n", "")
    assert "\n" not in text.replace("\r\n", "")
    return Calendar.from_ical(raw)


def _description_start(description: str) -> str:
    cleaned = clean_text(description).strip()
    return cleaned + "\n\n" if cleaned else ""


@PROPERTIES
@given(title=ANY, description=ANY, name=SHORT, about=ANY, provider=SHORT, label=SHORT)
def test_feed_round_trips_any_text(
    title: str, description: str, name: str, about: str, provider: str, label: str
) -> None:
    series = _series(title, description)
    meta = FeedMeta(
        name=name,
        description=about,
        source_url="https://cme.example.org/calendar.ics",
        provider=provider,
        credit_labels=CreditLabels({"DPC_HOURS": label}),
    )

    calendar = assert_well_formed(
        serialize(build_calendar([FeedEntry(series, [_moved(series)])], meta))
    )

    events = list(of(calendar).between(date(2027, 1, 1), date(2028, 1, 1)))
    assert [event.start.date() for event in events] == [
        date(2027, 3, 1),
        date(2027, 3, 9),
        date(2027, 3, 15),
        date(2027, 3, 22),
    ]
    for event in events:
        assert str(event["SUMMARY"]) == clean_text(title)
        assert str(event["DESCRIPTION"]).startswith(_description_start(description))
    assert text_of(calendar, "NAME") == text_of(calendar, "X-WR-CALNAME") == clean_text(name)
    if clean_text(about):
        assert text_of(calendar, "X-WR-CALDESC") == text_of(calendar, "DESCRIPTION")
        assert text_of(calendar, "DESCRIPTION") == clean_text(about)
    else:
        assert "DESCRIPTION" not in calendar


@PROPERTIES
@given(
    title=ANY,
    description=ANY,
    provider=SHORT,
    attendee=SHORT,
    method=st.sampled_from(["REQUEST", "CANCEL"]),
)
def test_invitation_round_trips_any_text(
    title: str, description: str, provider: str, attendee: str, method: str
) -> None:
    series = _series(title, description, language="en")
    meta = FeedMeta(
        name=title, description="", source_url="https://cme.example.org", provider=provider
    )

    raw = build_invitation(
        series,
        _moved(series),
        meta,
        method=method,
        organizer="webinars@cme.example.org",
        attendee=attendee,
        stamp=STAMP,
    )

    calendar = assert_well_formed(raw)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == method
    assert str(event["SUMMARY"]) == clean_text(title)
    assert str(event["DESCRIPTION"]).startswith(_description_start(description))
    assert (
        str(event["ORGANIZER"].params["CN"]) == " ".join(clean_text(provider).split("\n")).strip()
    )
    assert event.start == datetime(2027, 3, 9, 17, 0, tzinfo=UTC)  # type: ignore[attr-defined]  # walk() types Events as Component
    assert [e.start for e in of(calendar).between(date(2027, 1, 1), date(2028, 1, 1))] == [
        event.start  # type: ignore[attr-defined]  # walk() types Events as Component
    ]


def _reference_clean(value: str) -> str:
    """The documented cleaning, line by line and character by character (``str.splitlines``
    knows every line break; clean_text's fast paths must agree with this)."""
    lines = []
    for line in value.splitlines(keepends=True):
        body = (
            line.removesuffix("\r\n")
            if line.endswith("\r\n")
            else line.rstrip("".join(LINE_BREAKS))
        )
        lines.append(body + ("\n" if body != line else ""))
    return "".join(
        " " if ch == "\t" else ch
        for ch in "".join(lines)
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=ANY)
def test_clean_text_is_the_documented_cleaning(text: str) -> None:
    assert clean_text(text) == _reference_clean(text)
