"""Email addresses: exactly one mailbox per field, normalised once, sent in a form the server takes.

Every address that enters the service (a physician, an organiser, the sender) and every
recipient the outbox accepts goes through :func:`normalise_address`: email-validator checks the
syntax of one mailbox (a list such as ``a@example.org,b@evil.example`` is refused, as are quoted
local parts and IP-literal domains), and the result is lower-cased whole so that uniqueness and
matching are case-insensitive, as they always were.

Internationalised addresses are accepted (SPEC 3). An internationalised *domain* with an ASCII
local part is always deliverable: :func:`envelope_address` turns it into its IDNA (punycode)
form. A non-ASCII *local part* (``chloé.simon@example.org``) can only travel over SMTPUTF8
(RFC 6531); the SMTP transport uses it when the server offers it and otherwise fails that one
message with a reason that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from notifications.text import header_text

#: RFC 5321's limit on a whole address.
MAX_LENGTH = 320
_HOSTNAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")
_STAND_IN = "stand-in.example.org"


class InvalidAddressError(ValueError):
    """Not exactly one valid mailbox; the message names the text and what is wrong with it."""

    def __init__(self, text: str, reason: str) -> None:
        self.text, self.reason = text, reason
        super().__init__(f"{text!r} is not an email address: {reason}")


@dataclass(frozen=True)
class Mailbox:
    """One normalised address, with the display name that goes in front of it (may be empty)."""

    address: str
    name: str = ""

    @property
    def envelope(self) -> str:
        """The address for ``MAIL FROM`` / ``RCPT TO`` and the headers: ASCII whenever the local
        part is (the domain in IDNA form), else the address itself (which needs SMTPUTF8)."""
        return envelope_address(self.address)

    @property
    def header(self) -> Address:
        """A ``From``/``To`` value; the header registry quotes the name, so a comma, an ``@`` or
        a ``<`` in it can never make a second recipient."""
        local, _, domain = self.envelope.rpartition("@")
        return Address(display_name=header_text(self.name), username=local, domain=domain)


def _special_use(text: str) -> tuple[str, str] | None:
    """``(text with a stand-in domain, the domain)`` when ``text`` ends in a host name that
    email-validator refuses as special-use (``localhost``, ``*.local`` …), else ``None``."""
    head, at, tail = text.rpartition("@")
    domain = tail.rstrip().removesuffix(">").rstrip().lower()
    special = any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
    if not at or not special or not _HOSTNAME.match(domain):
        return None
    return f"{head}@{_STAND_IN}{'>' if tail.rstrip().endswith('>') else ''}", domain


def _validate(text: str, *, display_name: bool, anywhere: bool) -> tuple[str, str]:
    valid = validate_email(
        text,
        check_deliverability=False,
        allow_smtputf8=True,
        allow_display_name=display_name,
        globally_deliverable=not anywhere,
    )
    return valid.normalized, valid.display_name or ""


def _validated(text: str, *, display_name: bool, anywhere: bool) -> tuple[str, str]:
    if len(text) > MAX_LENGTH + (200 if display_name else 0):
        raise InvalidAddressError(text[:40] + "…", f"longer than {MAX_LENGTH} characters")
    try:
        normalized, name = _validate(text.strip(), display_name=display_name, anywhere=anywhere)
    except EmailNotValidError as exc:
        stand_in = _special_use(text.strip()) if anywhere else None
        if stand_in is None:
            raise InvalidAddressError(text, _reason(text, exc)) from None
        try:  # a local name such as webinars@localhost: check the rest with a stand-in domain
            normalized, name = _validate(stand_in[0], display_name=display_name, anywhere=True)
        except EmailNotValidError as inner:
            raise InvalidAddressError(text, str(inner)) from None
        normalized = normalized.removesuffix(_STAND_IN) + stand_in[1]
    address = normalized.lower()
    if len(address) > MAX_LENGTH:
        raise InvalidAddressError(text, f"longer than {MAX_LENGTH} characters")
    return address, name


def _reason(text: str, error: EmailNotValidError) -> str:
    if text.count("@") > 1 and any(separator in text for separator in ",; <"):
        return "give exactly one address, not a list"
    return str(error)


def normalise_address(text: str, *, anywhere: bool = False) -> str:
    """``text`` as one normalised address, or :class:`InvalidAddressError`.

    ``anywhere`` also accepts domains that are not globally deliverable (``localhost``, no dot):
    right for a sender or a recipient already in the outbox, not for a physician's address.
    """
    return _validated(text, display_name=False, anywhere=anywhere)[0]


def parse_mailbox(text: str) -> Mailbox:
    """``Name <address>`` or a bare address (a sender such as ``TRACKER_MAIL_FROM``)."""
    address, name = _validated(text, display_name=True, anywhere=True)
    return Mailbox(address, name)


def envelope_address(address: str) -> str:
    """``address`` with its domain in IDNA form when its local part is ASCII (see :class:`Mailbox`).

    The address must be valid; anything else raises :class:`InvalidAddressError`.
    """
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return address
    if domain.isascii():
        return address
    try:
        valid = validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise InvalidAddressError(address, str(exc)) from None
    return (valid.ascii_email or address).lower()


def needs_smtputf8(*addresses: str) -> bool:
    """Whether a message between these (envelope) addresses can only go over SMTPUTF8."""
    return not all(address.isascii() for address in addresses)
