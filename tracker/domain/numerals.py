"""Digits and numbers as people type them (leaf module: imports nothing of ours).

Python reads more than ASCII as digits: ``str.isdigit`` accepts any Unicode digit (and "²"),
``int`` and ``Decimal`` read U+0661 ARABIC-INDIC DIGIT ONE as 1, and ``float`` / ``Decimal`` also
take "1_0", "1e1", "inf" and "nan". An identifier stored as typed in fullwidth digits
(U+FF11 FULLWIDTH DIGIT ONE...) escaped the uniqueness rule and the search, and printed so on certificates.

The rule, everywhere a person types digits: NFKC first, which turns the fullwidth digits (and
comma and full stop) of a Japanese or Chinese keyboard into ASCII ones; then ASCII digits only.
Digits of other scripts (Arabic-Indic, Devanagari...) are refused: NFKC leaves them as they are,
and no reader of a certificate or a board's file expects them.
"""

from __future__ import annotations

import re
import unicodedata

#: A plain decimal number: digits, and at most one decimal comma or point followed by digits.
_DECIMAL = re.compile(r"([0-9]*)[.,]([0-9]+)|[0-9]+")


def folded(text: str) -> str:
    """``text`` in NFKC: fullwidth digits, comma and full stop become their ASCII forms."""
    return unicodedata.normalize("NFKC", text)


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of the ASCII digits 0-9, and nothing else."""
    return text.isascii() and text.isdigit()


def plain_decimal(text: str) -> str | None:
    """``text`` as an ASCII decimal with a point (``1,5`` and its fullwidth twin give ``1.5``, ``,5``
    gives ``0.5``), or ``None`` when it is not a plain decimal number: a sign, an exponent, an
    underscore, ``inf``, thousands separators or digits of another script."""
    text = folded(text).strip()
    found = _DECIMAL.fullmatch(text)
    if found is None:
        return None
    if found[2] is None:
        return text
    return f"{found[1] or '0'}.{found[2]}"


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """The whole number ``text`` writes in ASCII digits once folded (at most ``max_digits``),
    or ``None``."""
    text = folded(text).strip()
    if not is_ascii_digits(text) or len(text) > max_digits:
        return None
    return int(text)
