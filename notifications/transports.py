"""Where messages go: an SMTP server (aiosmtplib) or, without one, a Maildir on disk.

Failures are sorted into temporary (retry with backoff: 4xx replies, refused or dropped
connections, timeouts) and permanent (5xx replies: mark failed with the server's words; an
address the server cannot take, such as a non-ASCII local part without SMTPUTF8).
"""

from __future__ import annotations

import asyncio
import mailbox
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from notifications.addresses import needs_smtputf8


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TemporaryFailure(DeliveryError):
    """Worth another try later."""


class PermanentFailure(DeliveryError):
    """The server refused for good; trying again would not help."""


class Transport(Protocol):
    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None: ...


@dataclass(frozen=True)
class SmtpTransport:
    """``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://`` (implicit TLS).

    A message between ASCII addresses goes as usual. One whose envelope needs UTF-8 (a non-ASCII
    local part; domains arrive here in IDNA form already) goes with ``SMTPUTF8`` when the server
    offers it (RFC 6531), and otherwise fails for good with a reason that says so.
    """

    url: str
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None

    def _client(self) -> aiosmtplib.SMTP:
        parts = urlsplit(self.url)
        implicit = parts.scheme == "smtps"
        return aiosmtplib.SMTP(
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=None if not implicit else False,
            timeout=self.timeout,
            tls_context=self.tls_context,
        )

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        utf8 = needs_smtputf8(sender, recipient)
        try:
            async with self._client() as client:
                if utf8 and not client.supports_extension("smtputf8"):
                    raise PermanentFailure(
                        f"{recipient if not recipient.isascii() else sender} needs SMTPUTF8 "
                        "(RFC 6531, internationalised addresses), which the SMTP server "
                        f"{client.hostname}:{client.port} does not offer"
                    )
                await client.sendmail(
                    sender, [recipient], raw, mail_options=["SMTPUTF8"] if utf8 else None
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            worst = max(exc.recipients, key=lambda r: r.code)
            raise _classify(worst.code, worst.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify(exc.code, exc.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # an address aiosmtplib refuses to put on a command line
            raise PermanentFailure(f"{type(exc).__name__}: {exc}") from None


def _classify(code: int, message: str) -> DeliveryError:
    reason = f"{code} {message}".strip()
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


@dataclass(frozen=True)
class MaildirTransport:
    """Every message becomes a file in ``path/new`` (readable by any mail client)."""

    path: Path

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        await asyncio.to_thread(self._store, raw)

    def _store(self, raw: bytes) -> None:
        try:
            mailbox.Maildir(self.path, create=True).add(raw)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write to the Maildir {self.path}: {exc}") from None


def transport_for(smtp_url: str | None, maildir: Path) -> Transport:
    return SmtpTransport(smtp_url) if smtp_url else MaildirTransport(maildir)
