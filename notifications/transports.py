"""Where messages go: an SMTP server (aiosmtplib) or, without one, a Maildir on disk.

Failures are sorted into temporary (retry with backoff: 4xx replies, refused or dropped
connections, timeouts) and permanent (5xx replies: mark failed with the server's words; an
address the server cannot take, such as a non-ASCII local part without SMTPUTF8).
"""

from __future__ import annotations

import asyncio
import mailbox
import ssl
from dataclasses import dataclass, field
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
    """Hands one message over. A transport may also have ``async def close()``, called when a
    burst of messages is over (the SMTP transport keeps its connection until then)."""

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None: ...


@dataclass
class SmtpTransport:
    """``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://`` (implicit TLS).

    One connection carries a burst of messages: it is opened by the first :meth:`send`, kept
    while messages go through, dropped after any failure (the next message opens a fresh one)
    and closed by :meth:`close`, which the delivery worker calls when its queue is empty. A
    kept connection the server has meanwhile closed is reopened once, transparently.

    A message between ASCII addresses goes as usual. One whose envelope needs UTF-8 (a non-ASCII
    local part; domains arrive here in IDNA form already) goes with ``SMTPUTF8`` when the server
    offers it (RFC 6531), and otherwise fails for good with a reason that says so.
    """

    url: str
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None
    _client: aiosmtplib.SMTP | None = field(default=None, init=False, repr=False)
    #: Connections opened so far (for tests and logs).
    connections: int = field(default=0, init=False)

    def _new_client(self) -> aiosmtplib.SMTP:
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

    async def _connected(self) -> tuple[aiosmtplib.SMTP, bool]:
        """The open connection (and True when it was reused), or a new one."""
        if self._client is not None and self._client.is_connected:
            return self._client, True
        client = self._new_client()
        await client.connect()
        self._client = client
        self.connections += 1
        return client, False

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        """End the connection politely (QUIT), if one is open."""
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()

    async def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        try:
            await self._send(raw, sender=sender, recipient=recipient)
        except aiosmtplib.SMTPServerDisconnected:
            # a kept connection the server closed while idle: once more, on a fresh one
            self._drop()
            await self._send(raw, sender=sender, recipient=recipient, reuse=False)

    async def _send(self, raw: bytes, *, sender: str, recipient: str, reuse: bool = True) -> None:
        utf8 = needs_smtputf8(sender, recipient)
        try:
            client, reused = await self._connected()
            if utf8 and not client.supports_extension("smtputf8"):
                raise PermanentFailure(
                    f"{recipient if not recipient.isascii() else sender} needs SMTPUTF8 "
                    "(RFC 6531, internationalised addresses), which the SMTP server "
                    f"{client.hostname}:{client.port} does not offer"
                )
            await client.sendmail(
                sender, [recipient], raw, mail_options=["SMTPUTF8"] if utf8 else None
            )
        except PermanentFailure:
            raise
        except aiosmtplib.SMTPServerDisconnected:
            self._drop()
            if reuse and reused:
                raise  # see send(): retried once on a fresh connection
            raise TemporaryFailure(
                "SMTPServerDisconnected: the server closed the connection"
            ) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._drop()
            worst = max(exc.recipients, key=lambda r: r.code)
            raise _classify(worst.code, worst.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            self._drop()
            raise _classify(exc.code, exc.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self._drop()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except ValueError as exc:  # an address aiosmtplib refuses to put on a command line
            self._drop()
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
