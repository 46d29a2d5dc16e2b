"""Dates and times written for a reader, in their language and timezone (Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, get_timezone, get_timezone_location

from schedules.wording import locale_of

#: Zones with no city to name: shown by their own name (``UTC``).
_CITYLESS = ("UTC", "Etc/", "GMT")


def long_date(value: date, language: str) -> str:
    """``mardi 1er décembre 2026`` / ``Tuesday 1 December 2026``."""
    return _date(value, language, weekday=True)


def day(value: date, language: str) -> str:
    """``1er janvier 2026``, ``2 janvier 2026`` / ``1 January 2026``."""
    return _date(value, language, weekday=False)


def _date(value: date, language: str, *, weekday: bool) -> str:
    """A date written out; French writes the first of the month as an ordinal (``1er``), as
    its typography requires and CLDR's patterns do not."""
    first = "d'er'" if language == "fr" and value.day == 1 else "d"
    pattern = f"{'EEEE ' if weekday else ''}{first} MMMM y"
    return format_date(value, pattern, locale=locale_of(language))


def when(value: datetime, timezone: str, language: str) -> str:
    """``lundi 2 mars 2027 à 12:30`` / ``on Monday 2 March 2027 at 12:30``."""
    local = value.astimezone(ZoneInfo(timezone))
    if language == "fr":
        return f"le {long_date(local.date(), 'fr')} à {local:%H:%M}"
    return f"on {long_date(local.date(), 'en')} at {local:%H:%M}"


def zone_name(timezone: str, language: str) -> str:
    """The zone as a reader names it, from CLDR's city: ``heure de Paris``, ``heure d'Amsterdam``,
    ``heure du Caire`` / ``Paris time``; ``UTC`` for UTC and the ``Etc/`` zones."""
    if timezone.startswith(_CITYLESS):
        return timezone.removeprefix("Etc/")
    try:
        zone = get_timezone(timezone)
    except LookupError:  # a name stored before zones were checked against the list: as it is
        return timezone
    city = str(get_timezone_location(zone, locale_of(language), return_city=True))
    if language != "fr":
        return f"{city} time"
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if city.startswith(article):
            return "heure " + contracted + city.removeprefix(article)
    if city[:1].lower() in "aeéèêiîoôuhy":  # an elided "de": heure d'Amsterdam
        return f"heure d’{city}"
    return f"heure de {city}"


def when_zoned(value: datetime, timezone: str, language: str) -> str:
    """``lundi 7 décembre 2026 à 12:30 (heure de Paris)`` / ``Monday 7 December 2026 at 12:30
    (Paris time)``: the instant in ``timezone``, the zone named."""
    local = value.astimezone(ZoneInfo(timezone))
    at = "à" if language == "fr" else "at"
    return (
        f"{long_date(local.date(), language)} {at} {local:%H:%M} ({zone_name(timezone, language)})"
    )


def when_named(value: datetime, timezone: str, language: str) -> str:
    """:func:`when` with the zone named as the pages name it: ``le lundi 2 mars 2027 à 12:30
    (heure de Paris)`` / ``on Monday 2 March 2027 at 12:30 (Paris time)``."""
    return f"{when(value, timezone, language)} ({zone_name(timezone, language)})"


def month_label(year: int, month: int, language: str) -> str:
    """``décembre 2026`` / ``December 2026``."""
    return format_date(date(year, month, 1), "LLLL y", locale=locale_of(language))


def language_name(code: str, language: str) -> str:
    """A language as a reader of ``language`` names it: ``fr`` is ``français`` / ``French``;
    a code Babel does not know is shown as it is."""
    try:
        name = Locale.parse(code).get_display_name(locale_of(language))
    except (ValueError, UnknownLocaleError):
        return code
    return str(name) if name else code
