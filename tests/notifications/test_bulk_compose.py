"""The bulk path (a stencil filled per recipient, bytes written directly) gives what a mail
client reads from the general path (``render``, ``build_message``, ``serialise``)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.header import decode_header, make_header

import pytest

from notifications.addresses import needs_smtputf8, parse_mailbox
from notifications.compose import Attachment, alternative_bytes, build_message, render, stencil
from notifications.outbox import serialise
from tests.smtp import parse

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SENDER = '"Institut du Numérique" <webinars@cme.example.org>'
SHARED = {"provider": "Institut du Numérique en Santé", "home_url": "https://cme.example.org/"}
NAMES = (
    "first_name",
    "last_name",
    "page_url",
    "feed_url",
    "webcal_url",
    "google_url",
    "outlook_url",
)


def decoded(raw: bytes, name: str) -> str:
    """A header as RFC 2047 reads it (the space between two encoded-words is no space; the
    ``email`` package's newer parser shows one in display names)."""
    return str(make_header(decode_header(email.message_from_bytes(raw)[name])))


def values(first: str, last: str) -> dict[str, str]:
    return {
        "first_name": first,
        "last_name": last,
        "page_url": "https://cme.example.org/me/phy_abc",
        "feed_url": "https://cme.example.org/feeds/phy_abc.ics",
        "webcal_url": "webcal://cme.example.org/feeds/phy_abc.ics",
        "google_url": "https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fx&a=<b>",
        "outlook_url": "https://outlook.live.com/calendar/0/addfromweb?url=x&name=y",
    }


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    ("first", "last", "address"),
    [
        ("Jeanne", "Durand", "jeanne@example.org"),
        ("Zoé", "O'Brien-Ünal", "zoe@example.org"),
        ('Paul "Jr"', "Martin, <x@evil.example>", "paul@example.org"),
        ("Ἀλέξανδρος" * 9, "渡辺" * 40, "alex@example.org"),
        ("Line\r\nBreak\u2028", "Tab\tand\x00NUL <b>&amp;</b>", "lb@example.org"),
        ("José", "Núñez 😀", "jösé@exämple.org"),
    ],
)
def test_the_bulk_path_reads_as_the_general_one(
    language: str, first: str, last: str, address: str
) -> None:
    given = values(first, last)
    expected = render("welcome", language, SHARED | given)
    filled = stencil("welcome", language, SHARED, NAMES).fill(given)
    general = serialise(
        build_message(
            expected,
            sender=SENDER,
            recipient=address,
            recipient_name=f"{first} {last}",
            domain="cme.example.org",
            now=NOW,
        )
    )
    message_id, fast = alternative_bytes(
        filled,
        sender=parse_mailbox(SENDER),
        recipient=address,
        recipient_name=f"{first} {last}",
        domain="cme.example.org",
        now=NOW,
    )

    utf8 = needs_smtputf8(address)
    ours, theirs = parse(fast, utf8=utf8), parse(general, utf8=utf8)
    assert filled == expected
    assert str(ours["Message-ID"]) == message_id
    assert max(len(line) for line in fast.split(b"\r\n")) <= 998
    assert b"\n" not in fast.replace(b"\r\n", b"")
    for name in ("Subject", "From", "To", "Date", "MIME-Version"):
        if utf8:
            assert str(ours[name]) == str(theirs[name]), name
        else:
            assert decoded(fast, name) == decoded(general, name), name
    assert ours.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        # line breaks: CRLF here (canonical text); ``email`` leaves LF in a part it chose to
        # write in base64 (and CRLF in quoted-printable): readers take either
        ours_text = ours.get_body((kind,)).get_content()
        theirs_text = theirs.get_body((kind,)).get_content()
        assert ours_text.replace("\r\n", "\n") == theirs_text.replace("\r\n", "\n")


@pytest.mark.parametrize("address", ["jeanne@example.org", "jösé@exämple.org"])
def test_an_attachment_reads_as_the_general_paths(address: str) -> None:
    """A certificate's PDF after the text and HTML (``multipart/mixed``): the same file, name
    and type as ``email`` writes them, the same text and HTML beside it."""
    rendered = render("welcome", "fr", SHARED | values("Zoé", "Łęcka"))
    pdf = Attachment(
        "certificate-FGH4KZ7-JDQPEZM.pdf", bytes(range(256)) * 70, "application", "pdf"
    )
    general = serialise(
        build_message(
            rendered,
            sender=SENDER,
            recipient=address,
            recipient_name="Zoé Łęcka",
            domain="cme.example.org",
            now=NOW,
            attachments=(pdf,),
        )
    )
    _, fast = alternative_bytes(
        rendered,
        sender=parse_mailbox(SENDER),
        recipient=address,
        recipient_name="Zoé Łęcka",
        domain="cme.example.org",
        now=NOW,
        attachments=(pdf,),
    )

    utf8 = needs_smtputf8(address)
    ours, theirs = parse(fast, utf8=utf8), parse(general, utf8=utf8)
    assert max(len(line) for line in fast.split(b"\r\n")) <= 998
    assert b"\n" not in fast.replace(b"\r\n", b"")
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in ours.walk()] == [
        p.get_content_type() for p in theirs.walk()
    ]
    (mine,), (its,) = list(ours.iter_attachments()), list(theirs.iter_attachments())
    assert mine.get_filename() == its.get_filename() == pdf.filename
    assert mine.get_content() == its.get_content() == pdf.content
    for kind in ("plain", "html"):
        ours_text = ours.get_body((kind,)).get_content()
        theirs_text = theirs.get_body((kind,)).get_content()
        assert ours_text.replace("\r\n", "\n") == theirs_text.replace("\r\n", "\n")


def test_an_attachment_name_the_bulk_path_does_not_write_is_refused() -> None:
    """A file name that would need RFC 2231 encoding or quoting is left to ``email``."""
    rendered = render("welcome", "en", SHARED | values("Jeanne", "Durand"))
    for name in ("certificat-é.pdf", 'a"b.pdf', "x\r\nBcc: y.pdf"):
        with pytest.raises(ValueError, match="plain ASCII file name"):
            alternative_bytes(
                rendered,
                sender=parse_mailbox(SENDER),
                recipient="jeanne@example.org",
                domain="cme.example.org",
                now=NOW,
                attachments=(Attachment(name, b"%PDF", "application", "pdf"),),
            )
