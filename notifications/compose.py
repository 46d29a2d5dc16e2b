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

import functools
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

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
    return message
