"""Dates and times written for a reader, in their language and timezone (Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_timezone_location

from schedules.wording import locale_of


def long_date(value: date, language: str) -> str:
    """``mardi 1 décembre 2026`` / ``Tuesday 1 December 2026``."""
    return format_date(value, "EEEE d MMMM y", locale=locale_of(language))


def when(value: datetime, timezone: str, language: str) -> str:
    """``lundi 2 mars 2027 à 12:30`` / ``on Monday 2 March 2027 at 12:30``."""
    local = value.astimezone(ZoneInfo(timezone))
    if language == "fr":
        return f"le {long_date(local.date(), 'fr')} à {local:%H:%M}"
    return f"on {long_date(local.date(), 'en')} at {local:%H:%M}"


def month_label(year: int, month: int, language: str) -> str:
    """``décembre 2026`` / ``December 2026``."""
    return format_date(date(year, month, 1), "LLLL y", locale=locale_of(language))


def amount(value: float) -> str:
    """Credits as people write them: 1, 0.75, 1.5."""
    return f"{value:g}"


# self-registration


def zone_label(timezone: str, language: str) -> str:
    """The zone as a reader names it, from CLDR's exemplar city: ``heure de Paris`` /
    ``Paris time``; ``UTC`` for UTC and the like."""
    if timezone in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
        return "UTC"
    city = get_timezone_location(timezone, locale=locale_of(language), return_city=True)
    if language == "fr":
        return f"heure {'d’' if city[:1] in 'AEIOUÉÈÎYaeiou' else 'de '}{city}"
    return f"{city} time"


def when_zoned(value: datetime, timezone: str, language: str) -> str:
    """:func:`when` with the zone named: ``le lundi 7 décembre 2026 à 12:30 (heure de Paris)``
    / ``on Monday 7 December 2026 at 12:30 (Paris time)``."""
    return f"{when(value, timezone, language)} ({zone_label(timezone, language)})"
