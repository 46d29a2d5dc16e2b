"""Numbers and quantities as a reader of each language writes them (Babel's CLDR data).

French writes a decimal comma (``1,25``) and puts a no-break space before a colon
(``présence : 60 min``); a quantity below two takes the singular (``1,5 heure``, ``2 heures``).
English writes ``1.25`` and ``Attended: 60 min``. Credits always show one decimal at least
(``1,0``), as the AMA designation does. No digit grouping: amounts stay far below a thousand, and
French grouping uses U+202F, which not every font has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from babel import Locale
from babel.numbers import format_decimal

#: Before a colon in French (U+00A0: every font on the documents has it; U+202F is rarer).
NO_BREAK_SPACE = "\u00a0"
#: French nouns a credit label may start with, plural → singular.
_FRENCH_SINGULAR = {"heures": "heure", "points": "point", "crédits": "crédit", "minutes": "minute"}


def locale_of(language: str) -> Locale:
    return Locale.parse("fr" if language == "fr" else "en")


def number(value: float, language: str, *, pattern: str = "0.##") -> str:
    """``value`` with the language's decimal sign: ``0,75`` / ``0.75``; ``60`` stays ``60``."""
    return format_decimal(Decimal(str(round(value, 2))), format=pattern, locale=locale_of(language))


def count(value: float, language: str) -> str:
    """A count as the language writes it, grouped: ``1\u202f234`` / ``1,234``; ``37,5`` / ``37.5``."""
    return number(value, language, pattern="#,##0.##")


def plural_category(value: float, language: str) -> str:
    """The CLDR plural category of ``value`` in ``language``: French puts 0 and 1 (and 1,5) in
    ``one``, English 1 alone (``1.0`` is ``other``); French has ``many`` for a million."""
    return str(locale_of(language).plural_form(Decimal(str(round(value, 2)))))


def counted(forms: Mapping[str, str], value: float, language: str, **values: object) -> str:
    """The form of ``forms`` (``{"one": "{n} ligne", "other": "{n} lignes"}``) that agrees
    with ``value`` in ``language``, ``{n}`` filled with :func:`count` and the rest with
    ``values``; a category ``forms`` lacks takes ``other``."""
    form = forms.get(plural_category(value, language)) or forms["other"]
    return form.format(n=count(value, language), **values)


def credit_amount(value: float, language: str) -> str:
    """A credit amount with one decimal at least: ``1,0``, ``1,25`` / ``1.0``, ``1.25``."""
    return number(value, language, pattern="0.0#")


def labelled(label: str, value: str, language: str) -> str:
    """``label : value`` in French typography, ``label: value`` in English."""
    return f"{label}{NO_BREAK_SPACE}: {value}" if language == "fr" else f"{label}: {value}"


def quantity(value: float, label: str, language: str) -> str:
    """``1,0 heure DPC``, ``2,0 heures DPC`` / ``1.0 AMA PRA Category 1 Credit(s)™``.

    Labels are data, written in the plural (``heures DPC``); in French a first word that is a
    known plural noun agrees with the amount (CLDR: singular below two)."""
    amount = credit_amount(value, language)
    if language == "fr":
        first, _, rest = label.partition(" ")
        singular = _FRENCH_SINGULAR.get(first)
        if singular and plural_category(value, "fr") == "one":
            label = f"{singular} {rest}" if rest else singular
    return f"{amount} {label}"


@dataclass(frozen=True)
class CreditLabels:
    """Every credit type's label in each language, as the ``credit_type`` rows hold them.

    ``fallback`` is the row's one ``label`` (``{code: label}``); ``translated`` its ``labels``
    (``{code: {language: label}}``). A reader sees the label in their language, and a type
    created with one label only shows that label in every language."""

    fallback: Mapping[str, str] = field(default_factory=dict)
    translated: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def of(self, language: str) -> dict[str, str]:
        """``{code: label}`` for a reader of ``language``."""
        return {
            code: self.translated.get(code, {}).get(language) or label
            for code, label in self.fallback.items()
        }

    def label(self, code: str, language: str) -> str:
        """One type's label for a reader of ``language`` (its code when the type is unknown)."""
        return self.translated.get(code, {}).get(language) or self.fallback.get(code, code)
