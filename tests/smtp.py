"""A real SMTP server on loopback (aiosmtpd) whose replies a test can script."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parse(raw: bytes, *, utf8: bool = False) -> EmailMessage:
    """A message as a mail client reads it; an SMTPUTF8 message's headers are raw UTF-8 (RFC 6532),
    which the ``email`` package only reads right from text."""
    message = (
        email.message_from_string(raw.decode("utf-8"), policy=default)
        if utf8
        else email.message_from_bytes(raw, policy=default)
    )
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class Recorder:
    """Accepts messages, or answers the next scripted reply (``"421 …"``, ``"550 …"``)."""

    replies: list[str] = field(default_factory=list)
    delay: float = 0.0
    messages: list[EmailMessage] = field(default_factory=list)
    #: The bytes of each accepted message as they arrived (for readers other than ``email``).
    raw: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    #: The SMTP connection (aiosmtpd session) each accepted or refused message came on.
    connections: list[int] = field(default_factory=list)

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd's hook name
        self.connections.append(id(session))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.replies:
            return self.replies.pop(0)
        message = parse(envelope.content, utf8=envelope.smtp_utf8)
        self.messages.append(message)
        self.raw.append(bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def recipients(self) -> list[str]:
        """Every envelope recipient, in the order the messages arrived."""
        return [recipient for _sender, recipients in self.envelopes for recipient in recipients]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"s3cret",
    )
    return AuthResult(success=ok)


@dataclass
class SmtpServer:
    recorder: Recorder
    port: int

    @property
    def url(self) -> str:
        return f"smtp://mailer:s3cret@127.0.0.1:{self.port}"


def run_server(*, smtputf8: bool = False, port: int | None = None) -> Generator[SmtpServer]:
    """A server on ``port`` (a free one by default) that offers SMTPUTF8 only when asked to."""
    recorder = Recorder()
    port = port or free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
        enable_SMTPUTF8=smtputf8,
    )
    controller.start()
    try:
        yield SmtpServer(recorder, port)
    finally:
        controller.stop()
