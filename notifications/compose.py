"""Messages from template files: multipart text + HTML, an optional iCalendar part, attachments.

Templates live in ``notifications/templates`` as ``{kind}.{language}.txt`` (first line
``Subject: …``, a blank line, then the body) and ``{kind}.{language}.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
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


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    """The subject, text and HTML of ``kind`` in ``language`` (English when it has none)."""
    lang = language if (TEMPLATES / f"{kind}.{language}.txt").exists() else "en"
    text = _environment.get_template(f"{kind}.{lang}.txt").render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {kind}.{lang}.txt must start with a Subject: line")
    html = _environment.get_template(f"{kind}.{lang}.html").render(**context)
    return Rendered(first.removeprefix("Subject: ").strip(), body.lstrip("\n"), html)


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    recipient: str,
    domain: str,
    now: datetime,
    headers: dict[str, str] | None = None,
    calendar: tuple[bytes, str] | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """A complete message with its own Message-ID (kept for every retry of it).

    ``calendar`` is ``(ics bytes, METHOD)``: it becomes both a ``text/calendar; method=…``
    alternative (what mail clients turn into an invitation) and an ``invite.ics`` attachment.
    """
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        message[name] = value
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
            filename=attachment.filename,
        )
    return message
