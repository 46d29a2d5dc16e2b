"""User text made safe for a message: one line for a header, tidy lines for a body.

Titles, descriptions and names come from organisers and imports and may hold any character. A
header value may not hold a line break of any kind (``\\r``, ``\\n``, ``\\v``, ``\\f``, U+0085,
U+2028 … all end a line for Python's ``email`` package, which refuses them), and control
characters have no business in a subject or a name. Both functions keep every other character.
"""

from __future__ import annotations

import re

#: Every character that ``str.splitlines`` treats as the end of a line.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_HEADER_BREAKS = re.compile(r"[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
_SPACES = re.compile(r" {2,}")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_BODY_BREAKS = re.compile(r"\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def header_text(value: str) -> str:
    """``value`` on one line: line breaks and tabs become single spaces, other control
    characters go (so that ``header_text(body_text(v)) == header_text(v)``)."""
    text = _HEADER_BREAKS.sub(" ", _CONTROLS.sub("", _SURROGATES.sub("\ufffd", value)))
    return _SPACES.sub(" ", text).strip()


def body_text(value: str) -> str:
    """``value`` for a message body: every kind of line break becomes ``\\n``, tabs stay, other
    control characters go (a NUL or an escape sequence only ever does harm in a mail reader)."""
    return _CONTROLS.sub("", _BODY_BREAKS.sub("\n", _SURROGATES.sub("\ufffd", value)))
