"""Header values written by hand, so that no user text ever meets the folder of
``email.policy.default``.

That folder has two faults that user text reaches (CPython 3.11 to 3.13):

- it drops the space before a fold between two encoded-words: a subject
  ``… santé numérique — éthique …`` arrives as ``… numérique —éthique …``;
- an address whose display name holds long words is folded with an *empty line* inside the
  header, which ends the header block: every header after it spills into the body (a header
  injection through a physician's name).

Values built here are stored with ``EmailMessage.set_raw`` and serialised with
``refold_source="none"`` (:func:`notifications.outbox.serialise`), so they go out as written:
free text as RFC 2047 encoded-words made by the older ``email.header`` (which keeps every
space and splits words to RFC 2047's length), display names as a quoted string or
encoded-words, each line far below RFC 5322's 998 characters (titles hold at most 200
characters, names 100, addresses 320).
"""

from __future__ import annotations

import re
from email.header import Header

from notifications.addresses import Mailbox
from notifications.text import header_text

#: A display name of only these characters needs no quoting (RFC 5322 ``atext`` and spaces).
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


#: RFC 5322 2.1.1: a line SHOULD hold at most 78 characters.
LINE = 78


def text_value(name: str, value: str) -> str:
    """The raw value of free-text header ``name`` (a subject): ``value`` on one line, plain
    when it is ASCII and fits on one line, else as encoded-words.

    Every space of ``value`` goes out *inside* an encoded-word: the white space between two
    encoded-words is ignored by readers (RFC 2047 6.2). A long ASCII value is encoded too rather
    than folded, because some readers (``mail-parser``) do not unfold and would show the fold's
    line break inside the subject."""
    text = header_text(value)
    plain = (
        text.isascii()
        and "=?" not in text  # would read as an encoded-word
        and len(name) + 2 + len(text) <= LINE
    )
    return Header(text, "us-ascii" if plain else "utf-8", header_name=name).encode()


def mailbox_value(name: str, mailbox: Mailbox) -> str:
    """The raw value of address header ``name``: ``display name <address>``, or the address."""
    address = mailbox.envelope
    display = header_text(mailbox.name)
    if not display:
        return address
    if display.isascii() and "=?" not in display:
        if _PLAIN_PHRASE.fullmatch(display) is None:
            display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{display} <{address}>"
    encoded = Header(display, "utf-8", header_name=name).encode()
    return f"{encoded}\n <{address}>"
