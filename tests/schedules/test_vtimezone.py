"""The VTIMEZONE layout, read by the engines that use a feed's own VTIMEZONE (ical.js, vobject)
and by those that use their own zone data (node-ical, recurring_ical_events), for fourteen years
past a one-year horizon, in zones of every shape: northern and southern daylight time, a
30-minute change (Lord Howe), a 45-minute zone (Chatham), Dublin's winter "daylight" time, no
daylight time any more (Tokyo, São Paulo), and changes no yearly rule describes (Jerusalem,
Santiago), which are covered ten years past the horizon (see ``schedules/vtimezone.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from schedules.ical import FeedEntry, FeedMeta, build_calendar, build_invitation, serialize
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.vtimezone import IRREGULAR_YEARS, vtimezone
from tests.calendar_readers import READERS, read_with_every_reader

META = FeedMeta(
    name="Feed", description="", source_url="https://cme.example.org/calendar.ics", provider="IDS"
)
FIRST = datetime.fromisoformat("2026-01-04T12:00:00")  # a Sunday
HORIZON_END = datetime(2027, 2, 1, tzinfo=UTC)
REGULAR = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/Dublin",
    "Asia/Tokyo",
    "America/Sao_Paulo",
]
IRREGULAR = ["Asia/Jerusalem", "America/Santiago"]


def _sundays(key: str, n: int) -> Series:
    return Series.model_validate(
        {
            "id": n,
            "uid": f"{key}@cme-tracker",
            "slug": f"s{n}",
            "title": key,
            "description": "",
            "timezone": key,
            "start_local": FIRST,
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;BYDAY=SU",
            "join_url": "https://zoom.us/j/1",
            "credits": [],
            "reminders": [],
            "language": "en",
            "horizon_end": HORIZON_END,
            "created_at": HORIZON_END,
            "updated_at": HORIZON_END,
        }
    )


def _expected(key: str, until: datetime) -> list[tuple[str, datetime]]:
    tz = ZoneInfo(key)
    found, local = [], FIRST
    while (start := local.replace(tzinfo=tz).astimezone(UTC)) < until:
        found.append((f"{key}@cme-tracker", start))
        local += timedelta(days=7)
    return found


@pytest.mark.parametrize(
    ("zones", "until"),
    [
        (REGULAR, datetime(2041, 1, 1, tzinfo=UTC)),
        (IRREGULAR, datetime(HORIZON_END.year + IRREGULAR_YEARS + 1, 1, 1, tzinfo=UTC)),
    ],
    ids=["yearly-rule", "no-yearly-rule"],
)
def test_every_reader_places_every_sunday_noon_for_years_past_the_horizon_in_every_zone(
    zones: list[str], until: datetime
) -> None:
    entries = [FeedEntry(_sundays(key, n), []) for n, key in enumerate(zones, 1)]
    body = serialize(build_calendar(entries, META))

    seen = read_with_every_reader(body, start=datetime(2026, 1, 1, tzinfo=UTC), end=until)

    wanted = sorted(instance for key in zones for instance in _expected(key, until))
    for reader in READERS:
        got = sorted((instance.uid, instance.start) for instance in seen[reader])
        wrong = sorted(set(got) ^ set(wanted))
        assert wrong == [], f"{reader}: {len(wrong)} instances differ, first {wrong[:4]}"


def test_each_onset_is_its_own_observance_and_the_rule_follows_the_explicit_ones() -> None:
    zone = vtimezone(
        ZoneInfo("Europe/Paris"), date(2026, 10, 25), date(2027, 12, 1), open_ended=True
    )

    observances = [
        (
            component.name,
            component["DTSTART"].dt.isoformat(),
            str(component["TZOFFSETFROM"].to_ical()),
            str(component["TZOFFSETTO"].to_ical()),
            component["RRULE"].to_ical().decode() if "RRULE" in component else None,
        )
        for component in zone.subcomponents
    ]

    assert observances == [
        ("DAYLIGHT", "2026-10-25T02:00:00", "+0200", "+0200", None),
        ("STANDARD", "2026-10-25T03:00:00", "+0200", "+0100", None),
        ("DAYLIGHT", "2027-03-28T02:00:00", "+0100", "+0200", None),
        ("STANDARD", "2027-10-31T03:00:00", "+0200", "+0100", None),
        ("DAYLIGHT", "2028-03-26T02:00:00", "+0100", "+0200", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"),
        ("STANDARD", "2028-10-29T03:00:00", "+0200", "+0100", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
    ]
    assert all("RDATE" not in component for component in zone.subcomponents)


def test_a_range_that_ends_gets_no_rule_and_stops_with_its_last_year() -> None:
    entries = [
        FeedEntry(
            _sundays("Europe/Paris", 1).model_copy(
                update={"rrule": "FREQ=WEEKLY;UNTIL=20260201T000000Z"}
            ),
            [],
        )
    ]

    (zone,) = Calendar.from_ical(serialize(build_calendar(entries, META))).walk("VTIMEZONE")

    assert all("RRULE" not in component for component in zone.subcomponents)
    assert max(component["DTSTART"].dt for component in zone.subcomponents).year == 2027


@pytest.mark.parametrize(
    ("key", "local"),
    [
        ("Europe/Paris", "2026-10-25T12:30:00"),
        ("Europe/Paris", "2027-03-28T12:30:00"),
        ("Europe/Paris", "2027-07-05T12:30:00"),
        ("America/New_York", "2026-11-01T09:00:00"),
        ("America/New_York", "2027-03-14T09:00:00"),
        ("America/New_York", "2027-01-12T18:00:00"),
    ],
)
@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_every_reader_places_an_invitation_where_its_occurrence_is(
    key: str, local: str, method: str
) -> None:
    tz = ZoneInfo(key)
    start = datetime.fromisoformat(local).replace(tzinfo=tz).astimezone(UTC)
    series = _sundays(key, 1).model_copy(update={"rrule": "FREQ=DAILY"})
    occurrence = Occurrence(
        id=7,
        series_id=1,
        recurrence_id=start,
        start=start,
        end=start + timedelta(hours=1),
        status=OccurrenceStatus.SCHEDULED,
        sequence=2,
        updated_at=HORIZON_END,
    )

    body = build_invitation(
        series,
        occurrence,
        META,
        method=method,
        organizer="webinaires@example.org",
        attendee="jeanne@example.org",
        stamp=HORIZON_END,
    )

    seen = read_with_every_reader(
        body, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2028, 1, 1, tzinfo=UTC)
    )
    for reader in READERS:
        assert [(i.start, i.end) for i in seen[reader]] == [(start, start + timedelta(hours=1))], (
            reader
        )
