"""Dates and times written for a reader, in their language and timezone (no locale needed)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}


def long_date(value: date, language: str) -> str:
    lang = language if language in _DAYS else "en"
    day, month = _DAYS[lang][value.weekday()], _MONTHS[lang][value.month - 1]
    return f"{day} {value.day} {month} {value.year}"


def when(value: datetime, timezone: str, language: str) -> str:
    """``lundi 2 mars 2027 à 12:30`` / ``on Monday 2 March 2027 at 12:30``."""
    local = value.astimezone(ZoneInfo(timezone))
    if language == "fr":
        return f"le {long_date(local.date(), 'fr')} à {local:%H:%M}"
    return f"on {long_date(local.date(), 'en')} at {local:%H:%M}"


def month_label(year: int, month: int, language: str) -> str:
    lang = language if language in _MONTHS else "en"
    return f"{_MONTHS[lang][month - 1]} {year}"


def amount(value: float) -> str:
    """Credits as people write them: 1, 0.75, 1.5."""
    return f"{value:g}"
