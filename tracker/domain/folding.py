"""Folding text for searches, the same way in Python, SQLite and PostgreSQL (leaf module).

A search folds case and the common accents (``Helene`` finds ``Hélène``, ``MULLER`` finds
``Müller``) with one table of letters: :func:`fold` applies it in Python and, registered as a
function on every connection (:mod:`tracker.db`), in SQLite; PostgreSQL applies the same table
with its built-in ``translate`` (no extension needed). A letter that folds to several
(``ß``, ``æ``, ``œ``) is kept as it is, on both engines.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import String, literal
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
    return table


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
    return f"{FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    arguments = compiler.process(element.clauses, **kw)
    source = compiler.process(literal(_FROM, String()), **kw)
    target = compiler.process(literal(_TO, String()), **kw)
    return f"translate({arguments}, {source}, {target})"
