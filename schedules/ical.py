"""iCalendar (RFC 5545, RFC 7986) for series: building is kept apart from serialising.

One master VEVENT per series carries the RRULE in local time; a cancelled occurrence is an
EXDATE on it and a moved one an override VEVENT with RECURRENCE-ID. Every value is a function
of the stored rows, so the same data always gives the same bytes.

Every piece of user text goes through :func:`clean_text` (TEXT values) or :func:`_one_line`
(parameters and URIs) before icalendar sees it, and each series is built on its own: a row no
calendar can show (stored before dates were checked at the edge) is left out and logged, and
the rest of the feed is served.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Conference, Event
from icalendar.enums import STATUS
from icalendar.prop import vDuration, vRecur, vText

from schedules.designation import designation_statement
from schedules.errors import UnshowableDateError
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.recurrence import first_instance
from schedules.vtimezone import vtimezone
from schedules.wording import CreditLabels

PRODID = "-//CME Webinar Tracker//Feeds 1.0//EN"
REFRESH_INTERVAL = timedelta(hours=1)
#: Every line break ``str.splitlines`` knows: CRLF, LF, CR, VT, FF, FS, GS, RS, NEL, LS, PS.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
#: Control, format (zero-width, bidi) and surrogate code points: never written to a feed.
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
#: The instants a feed can show. The API refuses dates more than ten years from now; rows stored
#: before it did (a session in year 9999, a series from year 1) are left out of feeds, since no
#: VTIMEZONE, and few calendar applications, can describe them.
SHOWN_FROM = datetime(1900, 1, 1, tzinfo=UTC)
SHOWN_UNTIL = datetime(2200, 1, 1, tzinfo=UTC)

logger = logging.getLogger(__name__)


def clean_text(value: str) -> str:
    """User text made safe for any iCalendar TEXT value: one kind of newline, no control chars.

    Every line break becomes ``\\n`` (which icalendar escapes), a tab becomes a space, and
    other control, format and surrogate characters are removed: icalendar passes them through,
    and calendar readers choke on them or, for bidi controls, show misleading text. Printable
    text (the usual case) is returned as it is without looking at each character.
    """
    if value.isprintable():
        return value
    lines = _LINE_BREAKS.sub("\n", value).replace("\t", " ").split("\n")
    return "\n".join(line if line.isprintable() else _without_controls(line) for line in lines)


def _without_controls(line: str) -> str:
    return "".join(ch for ch in line if unicodedata.category(ch) not in _DROPPED)


def _text(value: str) -> vText:
    """A cleaned TEXT value; a plain ``str`` would become an unescaped vUnknown for NAME etc."""
    return vText(clean_text(value))


def _one_line(value: str) -> str:
    """Text for a parameter or a URI, which cannot hold a line break in any form."""
    return " ".join(clean_text(value).split("\n")).strip()


def shown(value: datetime) -> bool:
    """Whether a feed or an invitation can show ``value`` (see :data:`SHOWN_FROM`)."""
    return SHOWN_FROM <= value < SHOWN_UNTIL


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
    #: Each credit type's label per language; an event's text is in its series' language.
    credit_labels: CreditLabels = field(default_factory=CreditLabels)
    #: What the calendar's UID is derived from, when not ``source_url`` (a personal feed's URL
    #: holds a token that a rotation changes; its UID stays the same).
    uid_seed: str | None = None
    #: A physician's own join links by series id (their personal Zoom links), used instead of
    #: the series' shared one; part of the feed's stamp, so a new link is a new version.
    join_urls: tuple[tuple[int, str], ...] = ()


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    """``value`` in ``tz``; a wall time already in ``tz`` as it is (converting a skipped wall
    time would move it out of the gap)."""
    return value if value.tzinfo is tz else value.astimezone(tz)


def ambiguous(local: datetime) -> bool:
    """Whether the wall time of ``local`` names two instants of its zone (the hour repeated
    when clocks go back) or none (the hour skipped when they go forward). Readers disagree on
    such a time: RFC 5545 takes the first instant, and so do this service and node-ical, but
    ical.js and vobject take the second, an hour later."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def rule_wall(instant: datetime, tz: ZoneInfo, rule_start: datetime) -> datetime:
    """The wall time at which a rule starting at ``rule_start`` (a wall time in ``tz``) gives
    the instance that starts at ``instant``: what its RECURRENCE-ID or EXDATE must say, since
    a reader matches those against the wall times it computes from the rule. It is the
    instant's own wall time, except in an hour the clocks skip: a rule at 02:30 gives 02:30 on
    that night, which the service (as RFC 5545) places at 03:30 summer time."""
    local = instant.astimezone(tz)
    if local.time() == rule_start.time():
        return local
    before = (instant - timedelta(days=1)).astimezone(tz).utcoffset() or timedelta(0)
    wall = (instant + before).replace(tzinfo=tz, fold=0)
    if wall.time() == rule_start.time() and wall.astimezone(UTC) == instant:
        return wall
    return local


def _exact(value: datetime, tz: ZoneInfo) -> datetime:
    """A DTSTART or DTEND of one session: in the series' zone, or in UTC where the wall time is
    :func:`ambiguous` (a UTC time reads alike everywhere)."""
    local = value.astimezone(tz)
    return value.astimezone(UTC) if ambiguous(local) else local


def _join_url(series: Series, meta: FeedMeta) -> str:
    """The series' join link, or the feed's reader's own one when the feed names it."""
    return dict(meta.join_urls).get(series.id or 0, series.join_url)


def _description(series: Series, meta: FeedMeta) -> vText:
    join = "Rejoindre" if series.language == "fr" else "Join"
    parts = [clean_text(series.description).strip(), f"{join}: {_join_url(series, meta)}"]
    parts.append(
        designation_statement(
            series.credits,
            provider=meta.provider,
            labels=meta.credit_labels.of(series.language),
            language=series.language,
        )
    )
    return _text("\n\n".join(part for part in parts if part))


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
    rule_start: bool = False,
) -> Event:
    """One VEVENT. Its times are in the series' zone; a session's own start and end are in UTC
    where that wall time is :func:`ambiguous`, but never a ``rule_start`` (a master's DTSTART,
    from which every instance's wall time follows). ``recurrence_id`` is the rule's wall time
    of the instance (:func:`rule_wall`), which each reader matches against the instances it
    computes from the rule."""
    tz = ZoneInfo(series.timezone)
    label = "Rejoindre le webinaire" if series.language == "fr" else "Join the webinar"
    join_url = _one_line(_join_url(series, meta))
    when = _local if rule_start else _exact
    event = Event.new(
        uid=_one_line(series.uid),
        summary=clean_text(series.title),
        start=when(start, tz),
        end=when(end, tz),
        stamp=stamp,
        created=series.created_at,
        last_modified=stamp,
        sequence=sequence,
        url=join_url,
        location=join_url,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        recurrence_id=recurrence_id,
        conferences=[Conference(join_url, feature=["AUDIO", "VIDEO"], label=label)],
    )
    event.add("DESCRIPTION", _description(series, meta))
    event.add("TRANSP", "OPAQUE")
    return event


def _master_events(
    series: Series,
    rule: str,
    occurrences: Sequence[Occurrence],
    meta: FeedMeta,
    first: datetime,
) -> list[Event]:
    """The recurring master with its EXDATEs, then one override per moved occurrence, and per
    occurrence whose rule time is :func:`ambiguous` (at its exact time, so that every reader
    shows it where the service holds it).

    A moved occurrence whose new time cannot be shown is hidden (an EXDATE) rather than left at
    its rule time; one whose rule time cannot be shown is left out.
    """
    tz = ZoneInfo(series.timezone)
    master = _event(
        series,
        meta,
        start=first,
        # the end an exact duration after the start (a wall-clock sum would make a session
        # starting in a skipped hour last an hour less, in every instance)
        end=(first.replace(fold=0).astimezone(UTC) + timedelta(minutes=series.duration_minutes)),
        stamp=series.updated_at,
        sequence=series.sequence,
        rule_start=True,
    )
    master.add("RRULE", vRecur.from_ical(rule))
    hidden: list[datetime] = []
    overrides: list[Event] = []
    for occurrence in occurrences:
        if not shown(occurrence.recurrence_id):
            _left_out(series, occurrence)
            continue
        wall = rule_wall(occurrence.recurrence_id, tz, first)
        if occurrence.status == OccurrenceStatus.CANCELLED:
            hidden.append(wall)
        elif occurrence.status == OccurrenceStatus.MOVED or ambiguous(wall):
            if not (shown(occurrence.start) and shown(occurrence.end)):
                _left_out(series, occurrence)
                hidden.append(wall)
                continue
            overrides.append(
                _event(
                    series,
                    meta,
                    start=occurrence.start,
                    end=occurrence.end,
                    stamp=occurrence.updated_at,
                    sequence=occurrence.sequence,
                    recurrence_id=wall,
                )
            )
    if hidden:
        master.add("EXDATE", hidden)
    return [master, *overrides]


def _left_out(series: Series, occurrence: Occurrence) -> None:
    logger.warning(
        "feeds leave out occurrence %s of series %s: its dates (%s to %s, rule time %s) "
        "cannot be shown",
        occurrence.id,
        series.id,
        occurrence.start.isoformat(),
        occurrence.end.isoformat(),
        occurrence.recurrence_id.isoformat(),
    )


def master_start(series: Series) -> datetime:
    """The master's DTSTART: the series' first start, or the first date its rule gives when
    that start is not on the rule.

    RFC 5545 leaves a DTSTART off its RRULE undefined: vobject shows it as the first instance
    (a COUNT then loses the last), recurring_ical_events adds it, ical.js, node-ical, dateutil
    and this service skip it. New series cannot have
    one (the API refuses it); rows stored before that publish the rule's first date instead,
    the first occurrence the service materialised, on which every engine agrees.
    """
    tz = ZoneInfo(series.timezone)
    first = series.start_local.replace(tzinfo=tz)
    if series.rrule is None:
        return first
    on_rule = first_instance(series.rrule, series.start_local, tz)
    return on_rule.replace(tzinfo=tz) if on_rule is not None else first


def _series_events(entry: FeedEntry, meta: FeedMeta) -> list[Event]:
    series = entry.series
    occurrences = sorted(entry.occurrences, key=lambda o: o.recurrence_id)
    tz = ZoneInfo(series.timezone)
    first = series.start_local.replace(tzinfo=tz)
    if not shown(first):
        raise UnshowableDateError(f"its first start {series.start_local.isoformat()}")
    if series.rrule is not None:
        return _master_events(series, series.rrule, occurrences, meta, master_start(series))
    single = occurrences[0] if occurrences else None
    start, end = (single.start, single.end) if single else (first, first)
    if not (shown(start) and shown(end)):
        raise UnshowableDateError(f"its session at {start.isoformat()}")
    return [
        _event(
            series,
            meta,
            start=start,
            end=end if single else first + timedelta(minutes=series.duration_minutes),
            stamp=series.updated_at,
            sequence=series.sequence,
            cancelled=bool(single and single.status == OccurrenceStatus.CANCELLED),
        )
    ]


def _checked_events(entry: FeedEntry, meta: FeedMeta, *, serialise: bool) -> list[Event]:
    """The series' events; ``[]`` (logged) if building them, or with ``serialise`` serialising
    them, fails.

    One series must never take a whole feed down: whatever a stored row holds (a date no
    calendar can show, a rule or timezone this version cannot read), the failure is logged
    with the series id and the feed is served without it.
    """
    try:
        events = _series_events(entry, meta)
        for event in events if serialise else ():
            event.to_ical()
    except UnshowableDateError as exc:
        logger.warning("feeds leave out series %s: %s", entry.series.id, exc)
        return []
    except Exception:  # see the docstring: logged, and the feed is served without it
        logger.exception("feeds leave out series %s: it cannot be serialised", entry.series.id)
        return []
    return events


def _day_span(instants: Iterable[datetime]) -> tuple[date, date] | None:
    """First and last day of the instants that can be shown, with a day's margin each side."""
    kept = [value for value in instants if shown(value)]
    if not kept:
        return None
    return min(kept).date() - timedelta(days=1), max(kept).date() + timedelta(days=1)


def runs_past_horizon(series: Series, occurrences: Sequence[Occurrence]) -> bool:
    """Whether the series' rule gives instances after its materialised horizon: no COUNT nor
    UNTIL, an UNTIL after the horizon, or a COUNT not yet all materialised. Calendars expand
    such a rule for ever, so its VTIMEZONE must describe the zone for ever too."""
    if series.rrule is None:
        return False
    parts = vRecur.from_ical(series.rrule)
    if until := parts.get("UNTIL"):
        value = until[0]
        if not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
        return bool(value.astimezone(UTC) > series.horizon_end)
    if count := parts.get("COUNT"):
        return len(occurrences) < int(count[0])
    return True


@dataclass
class ZoneRange:
    """The days one timezone must cover in a feed, and whether its events go on past them."""

    first: date
    last: date
    open_ended: bool = False


def zone_ranges(entries: Sequence[FeedEntry]) -> dict[str, ZoneRange]:
    """Per TZID, the first and last day the feed's events touch (the VTIMEZONE's range).

    A recurring series counts up to its materialised horizon, and past it when its rule goes on
    (:func:`runs_past_horizon`); instants no feed shows are ignored.
    """
    ranges: dict[str, ZoneRange] = {}
    for entry in entries:
        series = entry.series
        instants = [master_start(series), series.horizon_end]
        for occurrence in entry.occurrences:
            instants += [occurrence.start, occurrence.end, occurrence.recurrence_id]
        span = _day_span(instants)
        if span is None:
            continue
        known = ranges.setdefault(series.timezone, ZoneRange(*span))
        known.first, known.last = min(known.first, span[0]), max(known.last, span[1])
        known.open_ended = known.open_ended or runs_past_horizon(series, entry.occurrences)
    return ranges


def _add_timezones(calendar: Calendar, ranges: Mapping[str, ZoneRange]) -> None:
    """A VTIMEZONE (see :mod:`schedules.vtimezone`) for each TZID the events use, first."""
    used = calendar.get_used_tzids()
    zones = [
        vtimezone(ZoneInfo(key), span.first, span.last, open_ended=span.open_ended)
        for key, span in sorted(ranges.items())
        if key in used
    ]
    calendar.subcomponents[0:0] = zones


def build_calendar(
    entries: Sequence[FeedEntry], meta: FeedMeta, *, serialise_each: bool = False
) -> Calendar:
    """The VCALENDAR for ``entries`` in series-id order, VTIMEZONEs limited to their range.

    A series that cannot be built is left out (and logged), and with ``serialise_each`` one
    that cannot be serialised too; the others are served.
    """
    calendar = Calendar.new(
        prodid=PRODID,
        source=_one_line(meta.source_url),
        uid=uuid.uuid5(uuid.NAMESPACE_URL, meta.uid_seed or meta.source_url),
    )
    # RFC 7986 5.7: REFRESH-INTERVAL's VALUE=DURATION is required, not a default.
    calendar.add("REFRESH-INTERVAL", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    calendar.add("NAME", _text(meta.name))
    calendar.add("X-WR-CALNAME", _text(meta.name))
    if description := clean_text(meta.description):
        calendar.add("DESCRIPTION", vText(description))
        calendar.add("X-WR-CALDESC", vText(description))
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    shown_entries: list[FeedEntry] = []
    for entry in sorted(entries, key=lambda e: e.series.id or 0):
        events = _checked_events(entry, meta, serialise=serialise_each)
        if events:
            shown_entries.append(entry)
        for event in events:
            calendar.add_component(event)
    _add_timezones(calendar, zone_ranges(shown_entries))
    return calendar


def serialize(calendar: Calendar) -> bytes:
    return bytes(calendar.to_ical())


def render_calendar(entries: Sequence[FeedEntry], meta: FeedMeta) -> bytes:
    """The feed's bytes. Should serialising the whole fail, each series is serialised on its
    own and the ones that fail are left out (logged): a second pass only on that rare path,
    so the usual feed costs one serialisation."""
    try:
        return serialize(build_calendar(entries, meta))
    except Exception:  # the second pass names and leaves out the series at fault
        return serialize(build_calendar(entries, meta, serialise_each=True))


def _occurrence_event(
    series: Series, occurrence: Occurrence, meta: FeedMeta, *, stamp: datetime, cancelled: bool
) -> tuple[Event, tuple[date, date]]:
    """One occurrence as its own VEVENT (the series' UID, RECURRENCE-ID for a recurring series),
    and the days its VTIMEZONE must cover; :class:`UnshowableDateError` when no calendar can
    show it."""
    instants = (occurrence.start, occurrence.end, occurrence.recurrence_id)
    span = _day_span(instants)
    if span is None or not all(shown(value) for value in instants):
        raise UnshowableDateError(f"occurrence {occurrence.id} ({occurrence.start.isoformat()})")
    event = _event(
        series,
        meta,
        start=occurrence.start,
        end=occurrence.end,
        stamp=stamp,
        sequence=occurrence.sequence,
        recurrence_id=(
            rule_wall(occurrence.recurrence_id, ZoneInfo(series.timezone), master_start(series))
            if series.rrule
            else None
        ),
        cancelled=cancelled,
    )
    return event, span


def build_occurrence_file(series: Series, occurrence: Occurrence, meta: FeedMeta) -> bytes:
    """One session as a ``.ics`` file to add to a calendar (``METHOD:PUBLISH``).

    The event is the one the reminder invitations carry (same UID and RECURRENCE-ID), so a
    calendar that received an invitation, or a moved-session notice, updates the same event
    rather than showing two. DTSTAMP is the occurrence's last change: the same data gives the
    same bytes. :class:`UnshowableDateError` when no calendar can show the session.
    """
    stamp = max(series.updated_at, occurrence.updated_at)
    event, span = _occurrence_event(
        series,
        occurrence,
        meta,
        stamp=stamp,
        cancelled=occurrence.status == OccurrenceStatus.CANCELLED,
    )
    seed = f"{series.uid}/{occurrence.recurrence_id.isoformat()}"
    calendar = Calendar.new(prodid=PRODID, uid=uuid.uuid5(uuid.NAMESPACE_URL, seed))
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add_component(event)
    _add_timezones(calendar, {series.timezone: ZoneRange(*span)})
    return serialize(calendar)


def build_invitation(
    series: Series,
    occurrence: Occurrence,
    meta: FeedMeta,
    *,
    method: str,
    organizer: str,
    attendee: str,
    stamp: datetime,
    organizer_name: str | None = None,
) -> bytes:
    """An RFC 6047 iTIP message for one occurrence: ``REQUEST`` (new or moved) or ``CANCEL``.

    The UID is the series' and RECURRENCE-ID names the occurrence (for a recurring series), so
    a calendar that also subscribes to the feed sees one event, not two. An occurrence stored
    with a date no calendar can show raises :class:`UnshowableDateError`.
    """
    event, span = _occurrence_event(
        series, occurrence, meta, stamp=stamp, cancelled=method == "CANCEL"
    )
    # ORGANIZER is a bare mailto: URI; the sender's name goes in CN (RFC 5545 3.8.4.3).
    event.add(
        "ORGANIZER",
        f"mailto:{_one_line(organizer)}",
        parameters={"CN": _one_line(organizer_name or meta.provider)},
    )
    event.add(
        "ATTENDEE",
        f"mailto:{_one_line(attendee)}",
        parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
    )
    calendar = Calendar.new(prodid=PRODID, method=method)
    calendar.add_component(event)
    _add_timezones(calendar, {series.timezone: ZoneRange(*span)})
    return serialize(calendar)
