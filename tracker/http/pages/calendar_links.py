"""Links that put a session or a feed into someone's calendar application.

- one session: Google Calendar's event template (``render?action=TEMPLATE``, dates in UTC);
  the ``.ics`` file is served by the service itself;
- a feed: ``webcal://`` (Apple Calendar, and whatever the system hands webcal links to), Google
  Calendar's ``r?cid=`` with the webcal URL, Outlook on the web's ``addfromweb``.

:func:`session_item` is one session as the pages list it (``session_item.html``): the physician's
page, the public home.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from schedules.clock import iso_z
from schedules.models import Occurrence, Series
from tracker.domain.agenda import joinable
from tracker.domain.localtime import when_zoned

GOOGLE_EVENT = "https://calendar.google.com/calendar/render"
GOOGLE_SUBSCRIBE = "https://calendar.google.com/calendar/r"
OUTLOOK_SUBSCRIBE = "https://outlook.live.com/calendar/0/addfromweb"
#: Google truncates long template URLs; the description keeps to this many characters.
_DETAILS_MAX = 1500


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_event(*, title: str, start: datetime, end: datetime, details: str, location: str) -> str:
    """Google Calendar's "add this event" page, prefilled; times in UTC (``…Z``)."""
    query = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{_utc(start)}/{_utc(end)}",
        "details": details[:_DETAILS_MAX],
        "location": location,
    }
    return f"{GOOGLE_EVENT}?{urlencode(query, quote_via=quote)}"


def webcal(https_url: str) -> str:
    """The same feed as a ``webcal://`` link (what subscribes rather than downloads)."""
    return "webcal://" + https_url.split("://", 1)[1]


@dataclass(frozen=True)
class Subscribe:
    """Every way to subscribe to one feed."""

    https: str
    webcal: str
    google: str
    outlook: str


def subscribe_links(https_url: str, *, name: str) -> Subscribe:
    address = webcal(https_url)
    return Subscribe(
        https=https_url,
        webcal=address,
        google=f"{GOOGLE_SUBSCRIBE}?{urlencode({'cid': address}, quote_via=quote)}",
        outlook=f"{OUTLOOK_SUBSCRIBE}?{urlencode({'url': https_url, 'name': name}, quote_via=quote)}",
    )


def session_item(
    occurrence: Occurrence,
    series: Series,
    *,
    timezone: str,
    lang: str,
    now: datetime,
    ics: str,
    statement: str,
) -> dict[str, Any]:
    """One session as ``session_item.html`` shows it: when (zone named), Join while it is
    live, and its add-to-calendar links."""
    return {
        "id": occurrence.id,
        "title": series.title,
        "when": when_zoned(occurrence.start, timezone, lang),
        "iso": iso_z(occurrence.start),
        "status": occurrence.status.value,
        "live": joinable(occurrence, now),
        "started": occurrence.start <= now,
        "join_url": series.join_url,
        "ics": ics,
        "google": google_event(
            title=series.title,
            start=occurrence.start,
            end=occurrence.end,
            details="\n\n".join(p for p in (series.join_url, statement) if p),
            location=series.join_url,
        ),
    }
