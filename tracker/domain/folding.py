"""Folding text for searches, the same way in Python, SQLite and PostgreSQL (leaf module).

A search folds case, the common accents and apostrophes (``Helene`` finds ``Hélène``, ``MULLER``
finds ``Müller``, ``d'Alembert`` finds it typed with U+2019) with one table of letters. In Python
and SQLite, :func:`fold` applies it to the text searched (a function registered on every
connection, :mod:`tracker.db`). PostgreSQL reads the same table the other way round:
:func:`folded_regex` turns each letter of the folded word into the class of every letter that folds
to it (``e`` becomes ``[eÈÉÊËèéêëĒē…]``), so that one regular expression, run in C, matches exactly
the texts whose fold holds the word, with no extension and no per-row function (``translate`` with
this table costs a scan of the table per character: 30 s over 42,000 rows). A letter that folds to
several (``ß``, ``æ``, ``œ``) is kept as it is, on both engines.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

FOLD_FUNCTION = "tracker_fold"


def _fold_table() -> dict[str, str]:
    """Each letter that folds to one other letter: ASCII capitals, Latin letters with accents,
    Greek and Cyrillic capitals to lower case without accents."""
    table: dict[str, str] = {}
    for start, end in ((0x41, 0x5B), (0xC0, 0x250), (0x370, 0x400), (0x400, 0x500)):
        for code in range(start, end):
            letter = chr(code)
            bare = "".join(
                c for c in unicodedata.normalize("NFKD", letter) if not unicodedata.combining(c)
            ).lower()
            if len(bare) == 1 and bare != letter:
                table[letter] = bare
    # the typographic apostrophes a name may be typed with, as the keyboard's
    table |= dict.fromkeys(_APOSTROPHES, "'")
    return table


#: Right and left single quotation marks and the modifier letter apostrophe.
_APOSTROPHES = "\u2019\u2018\u02bc"


FOLDS = _fold_table()
_FROM, _TO = "".join(FOLDS), "".join(FOLDS.values())
_TRANSLATION = str.maketrans(FOLDS)


def fold(text: str | None) -> str | None:
    """``text`` as searches compare it: see the module docstring."""
    if text is None:
        return None
    if text.isascii():  # the common case, and the same result: the table's ASCII part is A-Z
        return text.lower()
    return text.translate(_TRANSLATION)


class folded(FunctionElement[str]):
    """``fold(expression)`` in SQL, on either engine."""

    type = String()
    inherit_cache = True
    name = FOLD_FUNCTION


@compiles(folded)
def _folded_sqlite(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite only (PostgreSQL searches with :func:`folded_regex`)."""
    return f"{FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


def _letters_folding_to() -> dict[str, str]:
    classes: dict[str, set[str]] = {}
    for letter, bare in FOLDS.items():
        classes.setdefault(bare, {bare}).add(letter)
    return {bare: "".join(sorted(letters)) for bare, letters in classes.items()}


_CLASSES = _letters_folding_to()


def folded_regex(word: str) -> str:
    """A PostgreSQL regular expression (ARE) matching any text whose fold contains ``word``
    (itself folded): each letter is the class of the letters folding to it; anything else
    is literal (escaped unless alphanumeric)."""
    parts = []
    for char in word:
        if char in _CLASSES:
            parts.append(f"[{_CLASSES[char]}]")
        elif char.isalnum():
            parts.append(char)
        else:
            parts.append("\\" + char)
    return "".join(parts)
