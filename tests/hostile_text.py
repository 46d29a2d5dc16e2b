"""Hypothesis strategies for text a hostile or careless user may type: every kind of line break,
control and format characters, iCalendar's separators, very long values."""

from __future__ import annotations

import operator

from hypothesis import strategies as st

#: Every line break ``str.splitlines`` knows.
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
#: Characters that mean something to iCalendar, or to a reader of it.
SPECIALS = [
    ";",
    ",",
    ":",
    "\\",
    "\\n",
    '"',
    "^",
    "\t",
    " ",
    "\u00a0",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\U0001f469\u200d\U0001f4bb",
    "é",
    "BEGIN:VEVENT",
    "END:VCALENDAR",
]


def hostile_text(
    *, max_size: int, nul: bool = False, surrogates: bool = False
) -> st.SearchStrategy[str]:
    """Short pieces of anything, or one piece repeated up to ``max_size`` characters.

    ``nul`` and ``surrogates`` allow what the API refuses (rows stored another way may hold them).
    """
    excluded = "" if nul else "\x00"
    characters = st.characters(codec=None if surrogates else "utf-8", exclude_characters=excluded)
    controls = st.characters(categories=["Cc", "Cf"], exclude_characters=excluded)
    piece = st.one_of(
        st.text(characters, max_size=12),
        st.sampled_from(LINE_BREAKS + SPECIALS),
        controls,
    )
    short = st.lists(piece, max_size=40).map("".join)
    long = st.builds(
        operator.mul, st.text(characters, min_size=1, max_size=8), st.integers(1, 5000)
    )
    return st.one_of(short, long).map(lambda text: text[:max_size])


def non_empty(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The API's ``min_length=1`` fields: an empty draw becomes one line break (still hostile)."""
    return strategy.map(lambda text: text or "\r\n")
