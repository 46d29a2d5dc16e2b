"""Dates and times written for a reader, in their language and timezone (Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date, get_timezone

from schedules.wording import locale_of

#: Zones with no city to name: shown by their own name (``UTC``).
_CITYLESS = ("UTC", "Etc/", "GMT")


def session_date(start: datetime, timezone: str) -> date:
    """A session's date: its start's date where it is held (``timezone``, the series'). One
    date per session everywhere (its certificate, the monthly statement and its month, the
    requirements' windows, the board export), whoever reads it and from wherever."""
    return start.astimezone(ZoneInfo(timezone)).date()


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


#: The areas of zone names of the ``Area/Place`` form (``America/Montreal``); the others
#: (``US/Eastern``, ``Canada/Eastern``, ``EST5EDT``) name a region or a rule, not a place.
_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
#: Last parts of ``Area/...`` names that are no place (``Australia/North`` is Darwin's zone).
_NOT_PLACE_WORDS = frozenset({"North", "South", "East", "West"})
#: Zone names that only spell the same place the old way (tz links kept for old systems):
#: named as CLDR names the zone they link to (Kyiv, Kolkata, Ho Chi Minh City, Nuuk...). CLDR's
#: own data tells the two kinds of link apart: its bcp47 ``timezone.xml`` maps these renamed
#: ones in ``ianaMap`` (plus plain respellings such as Dacca/Dhaka), while a zone merged into
#: another place's is a deprecated type of its own (``camtr``, Montréal, into ``cator``).
_RENAMED = frozenset(
    {
        "Africa/Asmera",
        "America/Godthab",
        "America/Knox_IN",
        "Asia/Ashkhabad",
        "Asia/Calcutta",
        "Asia/Dacca",
        "Asia/Katmandu",
        "Asia/Macao",
        "Asia/Rangoon",
        "Asia/Saigon",
        "Asia/Thimbu",
        "Asia/Ujung_Pandang",
        "Asia/Ulan_Bator",
        "Atlantic/Faeroe",
        "Europe/Kiev",
        "Pacific/Enderbury",
        "Pacific/Ponape",
        "Pacific/Truk",
    }
)
#: A place's own spelling where its zone name drops the accents and CLDR has no city for it.
_SPELLINGS = {"America/Montreal": "Montréal"}


def zone_city(timezone: str, language: str) -> str:
    """The place a zone is named by, for a reader of ``language``.

    CLDR's own city for this very zone first (``Londres``, ``Détroit``). CLDR folds some zone
    names into another zone (``America/Montreal`` into ``America/Toronto``, ``Europe/Belfast``
    into ``Europe/London``) and keeps no city for them, so Babel's ``get_timezone_location``
    names Montréal "Toronto": such a name is named by its own place (``Montréal``), unless it
    only spells the same place the old way (``Asia/Calcutta``: CLDR's ``Kolkata``) or names no
    place (``US/Eastern``: the zone it links to, ``New York``). Without a city in CLDR, the
    zone's name gives it (``Europe/Paris``: ``Paris``)."""
    cities = locale_of(language).time_zones
    own = cities.get(timezone, {}).get("city")
    if own:
        return str(own)
    target = get_global("zone_aliases").get(timezone, timezone)
    if target != timezone and (timezone in _RENAMED or not _names_a_place(timezone)):
        found = cities.get(target, {}).get("city")
        return str(found) if found else _place(target)
    return _place(timezone)


def _names_a_place(timezone: str) -> bool:
    last = timezone.rpartition("/")[2]
    return timezone.startswith(_AREAS) and not last.isupper() and last not in _NOT_PLACE_WORDS


def _place(timezone: str) -> str:
    return _SPELLINGS.get(timezone) or timezone.rpartition("/")[2].replace("_", " ")


def zone_name(timezone: str, language: str) -> str:
    """The zone as a reader names it, by its place (:func:`zone_city`): ``heure de Paris``,
    ``heure d'Amsterdam``, ``heure du Caire``, ``heure de Montréal`` / ``Paris time``; ``UTC``
    for UTC and the ``Etc/`` zones."""
    if timezone.startswith(_CITYLESS):
        return timezone.removeprefix("Etc/")
    try:
        get_timezone(timezone)
    except LookupError:  # a name stored before zones were checked against the list: as it is
        return timezone
    city = zone_city(timezone, language)
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
