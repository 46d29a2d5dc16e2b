"""Messages from template files: multipart text + HTML, an optional iCalendar part, attachments.

Templates live in ``notifications/templates`` as ``{kind}.{language}.txt`` (first line
``Subject: …``, a blank line, then the body) and ``{kind}.{language}.html``.

User text is made safe here, once, for every kind of message: the subject line is a template of
its own (so a line break in a title can never end it and spill into the body); every header
value built from user text (subject, display names, links) is cleaned to one line by
:func:`~notifications.text.header_text` and written by :mod:`notifications.headers`, never by
the folder of ``policy.default``; every value a body template prints goes through
:func:`~notifications.text.body_text`.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape

from notifications.addresses import Mailbox, normalise_address, parse_mailbox
from notifications.headers import mailbox_value, text_value
from notifications.text import body_text, header_text

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _clean(value: Any) -> Any:
    """Jinja's ``finalize``: every printed string is body-safe (HTML escaping comes after)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return body_text(value)
    return value


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    finalize=_clean,
)


def make_msgid(*, domain: str) -> str:
    """A Message-ID as ``email.utils.make_msgid`` makes them, its random part from ``secrets``:
    the ``random`` module's state is left alone, even by messages composed in the background
    while a test draws from it (hypothesis refuses strategies whose draws move it)."""
    return f"<{time.time_ns() // 10_000}.{os.getpid()}.{secrets.randbits(64)}@{domain}>"


def _boundary() -> str:
    """A MIME boundary in the ``email`` package's format, from ``secrets``."""
    return f"==============={secrets.randbelow(10**19):019d}=="


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _templates(kind: str, language: str) -> tuple[Template, Template, Template]:
    """(subject, text, HTML) of ``kind`` in ``language``, the subject split off the text
    template's *source*, so that what a value prints can never move the end of the subject."""
    name = f"{kind}.{language}.txt"
    assert _environment.loader is not None
    source, _, _ = _environment.loader.get_source(_environment, name)
    first, _, body = source.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {name} must start with a Subject: line")
    return (
        _environment.from_string(first.removeprefix("Subject: ")),
        _environment.from_string(body),
        _environment.get_template(f"{kind}.{language}.html"),
    )


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    """The subject, text and HTML of ``kind`` in ``language`` (English when it has none)."""
    lang = language if (TEMPLATES / f"{kind}.{language}.txt").exists() else "en"
    subject, text, html = _templates(kind, lang)
    return Rendered(
        header_text(subject.render(**context)),
        text.render(**context).lstrip("\n"),
        html.render(**context),
    )


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    domain: str,
    now: datetime,
    recipient_name: str = "",
    headers: dict[str, str] | None = None,
    calendar: tuple[bytes, str] | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """A complete message with its own Message-ID (kept for every retry of it).

    ``sender`` may carry a display name (``Name <address>``); ``recipient`` is one address,
    shown as ``recipient_name <recipient>``. Either one not being exactly one valid mailbox
    raises :class:`~notifications.addresses.InvalidAddressError`.
    ``calendar`` is ``(ics bytes, METHOD)``: it becomes both a ``text/calendar; method=…``
    alternative (what mail clients turn into an invitation) and an ``invite.ics`` attachment.
    """
    to = Mailbox(normalise_address(recipient, anywhere=True), recipient_name)
    message = EmailMessage()
    message.set_raw("Subject", text_value("Subject", rendered.subject))
    message.set_raw("From", mailbox_value("From", parse_mailbox(sender)))
    message.set_raw("To", mailbox_value("To", to))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        message.set_raw(name, header_text(value))
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if calendar is not None:
        ics, method = calendar
        message.add_alternative(ics.decode("utf-8"), subtype="calendar", params={"method": method})
        message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=header_text(attachment.filename),
        )
    for part in message.walk():  # the generator would draw them from ``random`` (see make_msgid)
        if part.is_multipart() and part.get_boundary() is None:
            part.set_boundary(_boundary())
    return message


# Many messages of one kind at once -----------------------------------------------------------


def _slot(name: str) -> str:
    """A placeholder no template prints by itself (private-use characters around the name),
    which :func:`~notifications.text.body_text` and HTML escaping both leave alone."""
    return f"\ue000{name}\ue001"


_SLOT = re.compile("\ue000([A-Za-z_]+)\ue001")


def _clean_fast(value: str) -> str:
    """:func:`~notifications.text.body_text`, skipped for the common value it leaves alone (a
    printable string holds no line break, control character or surrogate)."""
    return value if value.isprintable() else body_text(value)


@dataclass(frozen=True)
class Stencil:
    """A kind rendered once per language with placeholders for the few values that differ per
    recipient (names, personal links), then filled per recipient.

    Rendering a template costs about a third of a millisecond; filling a stencil, a few
    microseconds. Filled values go through the same cleaning as rendered ones (``body_text``,
    then HTML escaping in the HTML part), so the result equals :func:`render` with those values,
    provided the templates only print them (no test or filter on a per-recipient value).
    ``text`` and ``html`` alternate literal text and the names of the values to put between."""

    subject: str
    text: tuple[str, ...]
    html: tuple[str, ...]

    def fill(self, values: dict[str, str]) -> Rendered:
        clean = {name: _clean_fast(value) for name, value in values.items()}
        text = [part if i % 2 == 0 else clean[part] for i, part in enumerate(self.text)]
        html = [
            part if i % 2 == 0 else str(escape(clean[part])) for i, part in enumerate(self.html)
        ]
        return Rendered(self.subject, "".join(text), "".join(html))


def stencil(kind: str, language: str, context: dict[str, Any], names: tuple[str, ...]) -> Stencil:
    """``kind`` in ``language`` rendered with ``context``, leaving ``names`` to fill; the subject
    may not use them (a subject is the same for every recipient of a stencil)."""
    rendered = render(kind, language, context | {name: _slot(name) for name in names})
    if "\ue000" in rendered.subject:
        raise ValueError(f"the subject of {kind} uses a per-recipient value")
    return Stencil(
        rendered.subject, tuple(_SLOT.split(rendered.text)), tuple(_SLOT.split(rendered.html))
    )


def _base64_part(subtype: str, content: str) -> bytes:
    # text in canonical form (RFC 2046 4.1.1: CRLF line breaks), as ``email`` encodes it
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii") + _base64_lines(content.replace("\n", "\r\n").encode("utf-8"))


@functools.lru_cache(maxsize=4)
def _date_value(now: datetime) -> str:
    return format_datetime(now)


@functools.lru_cache(maxsize=64)
def _subject_value(subject: str) -> str:
    return text_value("Subject", subject)


def _base64_lines(content: bytes) -> bytes:
    encoded = base64.b64encode(content)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\r\n"


#: A file name written as it is in a quoted ``filename`` parameter (others go the general way).
_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9 ._()+,-]{1,70}")


def _attachment_part(attachment: Attachment) -> bytes:
    if _PLAIN_FILENAME.fullmatch(attachment.filename) is None:
        raise ValueError(f"{attachment.filename!r}: only a plain ASCII file name is written here")
    return (
        f"Content-Type: {attachment.maintype}/{attachment.subtype}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n\r\n'
    ).encode("ascii") + _base64_lines(attachment.content)


def alternative_bytes(
    rendered: Rendered,
    *,
    sender: Mailbox,
    recipient: str,
    domain: str,
    now: datetime,
    recipient_name: str = "",
    attachments: tuple[Attachment, ...] = (),
) -> tuple[str, bytes]:
    """The Message-ID and the bytes that :func:`build_message` then
    :func:`~notifications.outbox.serialise` give for a text + HTML message (both parts in
    base64), with ``attachments`` after them (``multipart/mixed``, each in base64), written
    directly, a tenth of the time (no ``email`` policy machinery), for queueing tens of
    thousands at once. ``recipient`` must be a normalised address; one that needs SMTPUTF8 is
    written in UTF-8 (RFC 6532), as ``serialise`` does. An attachment's file name must be plain
    ASCII (letters, digits, spaces, ``._()+,-``): :class:`ValueError` otherwise."""
    to = Mailbox(recipient, recipient_name)
    message_id = make_msgid(domain=domain)
    boundary = _boundary()
    files = [_attachment_part(attachment) for attachment in attachments]
    outer = _boundary() if files else boundary
    headers = (
        ("Subject", _subject_value(rendered.subject)),
        ("From", _mailbox_value("From", sender)),
        ("To", _recipient_value(to)),
        ("Date", _date_value(now)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/{"mixed" if files else "alternative"}; boundary="{outer}"'),
    )
    # values folded by ``email.header`` use bare line feeds; the wire uses CRLF
    head = "".join(f"{name}: {value}\n" for name, value in headers) + "\n"
    delimiter = f"--{boundary}\r\n".encode("ascii")
    alternative = b"".join(
        (
            delimiter,
            _base64_part("plain", rendered.text),
            delimiter,
            _base64_part("html", rendered.html),
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )
    if files:
        around = f"--{outer}\r\n".encode("ascii")
        nested = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
            + alternative
        )
        body = b"".join(
            (around, nested, *(around + part for part in files), f"--{outer}--\r\n".encode())
        )
    else:
        body = alternative
    return message_id, head.replace("\n", "\r\n").encode("utf-8") + body


@functools.lru_cache(maxsize=4)
def _mailbox_value(name: str, mailbox: Mailbox) -> str:
    return mailbox_value(name, mailbox)


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 base64 encoded-words of at most 75 characters, on folded lines;
    each word holds whole characters. What ``email.header`` does for a display name, without
    its generality (and its cost: half of a bulk message's time)."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for character in text:
        width = len(character.encode("utf-8"))
        if size + width > 45:  # 45 bytes: 60 in base64, 72 with the markers
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(character)
        size += width
    words.append("".join(chunk))
    return "\n ".join(
        "=?utf-8?b?" + base64.b64encode(word.encode("utf-8")).decode("ascii") + "?="
        for word in words
    )


def _recipient_value(mailbox: Mailbox) -> str:
    """``To``: as :func:`~notifications.headers.mailbox_value` writes it, a non-ASCII display
    name in encoded-words of our own."""
    display = header_text(mailbox.name)
    if display and not display.isascii():
        return f"{_encoded_words(display)}\n <{mailbox.envelope}>"
    return mailbox_value("To", mailbox)
