"""iCalendar (RFC 5545, RFC 7986) for series: building is kept apart from serialising.

One master VEVENT per series carries the RRULE in local time; a cancelled occurrence is an
EXDATE on it and a moved one an override VEVENT with RECURRENCE-ID. Every value is a function
of the stored rows, so the same data always gives the same bytes.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Conference, Event
from icalendar.enums import STATUS
from icalendar.prop import vDuration, vRecur

from schedules.designation import designation_statement
from schedules.models import Occurrence, OccurrenceStatus, Series

PRODID = "-//CME Webinar Tracker//Feeds 1.0//EN"
REFRESH_INTERVAL = timedelta(hours=1)
_LINE_BREAKS = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")


def clean_text(value: str) -> str:
    """User text made safe for any iCalendar TEXT value: one kind of newline, no control chars.

    icalendar escapes ``\\n``, ``;`` and ``,``; it passes other control characters through,
    which some readers choke on, so they are removed here.
    """
    unified = _LINE_BREAKS.sub("\n", value)
    return "".join(
        ch for ch in unified if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    ).replace("\t", " ")


@dataclass(frozen=True)
class FeedEntry:
    """A series and its materialised occurrences, as one feed shows them."""

    series: Series
    occurrences: Sequence[Occurrence]


@dataclass(frozen=True)
class FeedMeta:
    name: str
    description: str
    source_url: str
    provider: str
    credit_labels: Mapping[str, str] = field(default_factory=dict)


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(tz)


def _description(series: Series, meta: FeedMeta) -> str:
    join = "Rejoindre" if series.language == "fr" else "Join"
    parts = [clean_text(series.description).strip(), f"{join}: {series.join_url}"]
    parts.append(
        designation_statement(
            series.credits,
            provider=meta.provider,
            labels=meta.credit_labels,
            language=series.language,
        )
    )
    return "\n\n".join(part for part in parts if part)


def _event(
    series: Series,
    meta: FeedMeta,
    *,
    start: datetime,
    end: datetime,
    stamp: datetime,
    sequence: int,
    recurrence_id: datetime | None = None,
    cancelled: bool = False,
) -> Event:
    tz = ZoneInfo(series.timezone)
    label = "Rejoindre le webinaire" if series.language == "fr" else "Join the webinar"
    event = Event.new(
        uid=series.uid,
        summary=clean_text(series.title),
        description=_description(series, meta),
        start=_local(start, tz),
        end=_local(end, tz),
        stamp=stamp,
        created=series.created_at,
        last_modified=stamp,
        sequence=sequence,
        url=series.join_url,
        location=series.join_url,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        recurrence_id=_local(recurrence_id, tz) if recurrence_id else None,
        conferences=[Conference(series.join_url, feature=["AUDIO", "VIDEO"], label=label)],
    )
    event.add("TRANSP", "OPAQUE")
    return event


def _series_events(entry: FeedEntry, meta: FeedMeta) -> list[Event]:
    series = entry.series
    occurrences = sorted(entry.occurrences, key=lambda o: o.recurrence_id)
    tz = ZoneInfo(series.timezone)
    first = series.start_local.replace(tzinfo=tz)
    duration = timedelta(minutes=series.duration_minutes)
    if series.rrule is None:
        single = occurrences[0] if occurrences else None
        start, end = (single.start, single.end) if single else (first, first + duration)
        return [
            _event(
                series,
                meta,
                start=start,
                end=end,
                stamp=series.updated_at,
                sequence=series.sequence,
                cancelled=bool(single and single.status == OccurrenceStatus.CANCELLED),
            )
        ]
    master = _event(
        series,
        meta,
        start=first,
        end=first + duration,
        stamp=series.updated_at,
        sequence=series.sequence,
    )
    master.add("RRULE", vRecur.from_ical(series.rrule))
    cancelled = [
        o.recurrence_id.astimezone(tz)
        for o in occurrences
        if o.status == OccurrenceStatus.CANCELLED
    ]
    if cancelled:
        master.add("EXDATE", cancelled)
    overrides = [
        _event(
            series,
            meta,
            start=o.start,
            end=o.end,
            stamp=o.updated_at,
            sequence=o.sequence,
            recurrence_id=o.recurrence_id,
        )
        for o in occurrences
        if o.status == OccurrenceStatus.MOVED
    ]
    return [master, *overrides]


def date_range(entries: Sequence[FeedEntry]) -> tuple[date, date]:
    """First and last day the feed's events touch: the range its VTIMEZONEs must cover."""
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for entry in entries:
        tz = ZoneInfo(entry.series.timezone)
        firsts.append(entry.series.start_local.replace(tzinfo=tz))
        lasts.append(entry.series.horizon_end)
        for occurrence in entry.occurrences:
            firsts.append(occurrence.start)
            lasts.append(occurrence.end)
    if not firsts:
        return date(2000, 1, 1), date(2000, 1, 2)
    return min(firsts).date() - timedelta(days=1), max(lasts).date() + timedelta(days=1)


def build_calendar(entries: Sequence[FeedEntry], meta: FeedMeta) -> Calendar:
    """The VCALENDAR for ``entries`` in series-id order, VTIMEZONEs limited to their range."""
    calendar = Calendar.new(
        prodid=PRODID,
        name=clean_text(meta.name),
        description=clean_text(meta.description) or None,
        refresh_interval=REFRESH_INTERVAL,
        source=meta.source_url,
        uid=uuid.uuid5(uuid.NAMESPACE_URL, meta.source_url),
    )
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    for entry in sorted(entries, key=lambda e: e.series.id or 0):
        for event in _series_events(entry, meta):
            calendar.add_component(event)
    first, last = date_range(entries)
    calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar


def serialize(calendar: Calendar) -> bytes:
    return bytes(calendar.to_ical())


def build_invitation(
    series: Series,
    occurrence: Occurrence,
    meta: FeedMeta,
    *,
    method: str,
    organizer: str,
    attendee: str,
    stamp: datetime,
) -> bytes:
    """An RFC 6047 iTIP message for one occurrence: ``REQUEST`` (new or moved) or ``CANCEL``.

    The UID is the series' and RECURRENCE-ID names the occurrence (for a recurring series), so
    a calendar that also subscribes to the feed sees one event, not two.
    """
    cancelled = method == "CANCEL"
    event = _event(
        series,
        meta,
        start=occurrence.start,
        end=occurrence.end,
        stamp=stamp,
        sequence=occurrence.sequence,
        recurrence_id=occurrence.recurrence_id if series.rrule else None,
        cancelled=cancelled,
    )
    event.add("ORGANIZER", f"mailto:{organizer}", parameters={"CN": clean_text(meta.provider)})
    event.add(
        "ATTENDEE",
        f"mailto:{attendee}",
        parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
    )
    calendar = Calendar.new(prodid=PRODID, method=method)
    calendar.add_component(event)
    tz_start = min(occurrence.start, occurrence.recurrence_id).date() - timedelta(days=1)
    calendar.add_missing_timezones(
        first_date=tz_start, last_date=occurrence.end.date() + timedelta(days=1)
    )
    return serialize(calendar)
