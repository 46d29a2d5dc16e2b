"""Property-based tests: whatever text organisers and imports put in titles, descriptions and
names, every kind of email is queued and reads back whole (issue 8, hardening suite).

Hypothesis draws arbitrary Unicode with every kind of line break and control character, and
values up to the longest each column holds. For each example, every kind of email (reminder,
cancellation notice, move notice, claim, claim reminder, certificate, monthly statement) is composed through the
service's own mailing functions against a real database, and the stored bytes are read back
with Python's ``email`` package (``policy.default``), the invitations with icalendar and the PDFs
with pypdf. The database is built once per test; examples loop inside it (deterministic:
``derandomize=True``).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy import delete
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.text import LINE_BREAKS, header_text
from schedules.models import Occurrence, OccurrenceStatus, Series
from schedules.occurrences import list_occurrences
from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tests.smtp import parse
from tests.tracker.mail_kinds import HEADERS
from tracker.db import Database
from tracker.domain.credit_types import credit_labels
from tracker.domain.mailings import (
    MailSettings,
    enqueue_claim_reminder,
    enqueue_notices,
    enqueue_reminders,
    enqueue_statement,
    issue_certificates,
)
from tracker.domain.models import Award, Claim, Physician
from tracker.domain.physicians import create_physician
from tracker.domain.registrations import register
from tracker.domain.schemas import PhysicianCreate

pytestmark = pytest.mark.any_engine

T = TypeVar("T")
NOW = datetime(2026, 11, 30, 11, 31, tzinfo=UTC)
AFTER = datetime(2027, 1, 1, 6, 5, tzinfo=UTC)
#: When the first session's credits become final, and how long before claims close the reminder goes.
FINAL = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
REMIND = timedelta(days=3)
#: Characters a hostile or careless text holds, drawn often on top of arbitrary Unicode.
NASTY = [*LINE_BREAKS, "\t", "\x1b", "\x7f", "\u200b", "\u202e", "\ufeff", "\x00"]
MAIL = MailSettings(
    base_url="https://cme.example.org",
    sender='"Institut du Numérique, Paris" <webinars@cme.example.org>',
    provider="Institut du Numérique en Santé",
)


def texts(*, min_size: int, max_size: int, nul: bool) -> st.SearchStrategy[str]:
    """Arbitrary Unicode, rich in line breaks and control characters (NUL only where the
    database can store it: PostgreSQL text cannot)."""
    nasty = [char for char in NASTY if nul or char != "\x00"]
    any_char = st.characters(exclude_categories=["Cs"], exclude_characters="" if nul else "\x00")
    return st.lists(
        st.one_of(any_char, st.sampled_from(nasty)), min_size=min_size, max_size=max_size
    ).map("".join) | st.text(any_char, min_size=max_size, max_size=max_size)


@dataclass(frozen=True)
class World:
    series_id: int
    physician_id: int
    occurrences: tuple[int, int, int]


async def _build(database: Database, language: str) -> World:
    """A weekly series (its second session cancelled, its third moved), one physician
    registered to it, and a final award with credit for the first session."""
    async with database.session() as session:
        labels = await credit_labels(session)
        series = await create_series(
            session,
            SeriesCreate.model_validate(
                {
                    "title": "Placeholder",
                    "timezone": "Europe/Paris",
                    "start": "2026-12-01T12:30:00",
                    "duration_minutes": 60,
                    "rrule": "FREQ=WEEKLY;COUNT=3;BYDAY=TU",
                    "join_url": "https://zoom.us/j/81234567890",
                    "credits": [{"type": "AMA_PRA_1", "max": 1.0}],
                    "reminders": ["P1D"],
                    "language": language,
                }
            ),
            credit_types=labels,
            now=NOW,
        )
        await session.flush()
        first, second, third = (o.id or 0 for o in await list_occurrences(session, series.id or 0))
        physician, _ = await create_physician(
            session,
            PhysicianCreate(
                first_name="Jeanne",
                last_name="Durand",
                email="jeanne.durand@example.org",
                timezone="Europe/Paris",
                language=language,
            ),
            now=NOW,
        )
        await register(
            session, MAIL, series.id or 0, physician_id=physician.id, email=None, now=NOW
        )
        cancelled = await session.get_one(Occurrence, second)
        cancelled.status, cancelled.sequence = OccurrenceStatus.CANCELLED, cancelled.sequence + 1
        moved = await session.get_one(Occurrence, third)
        moved.start = moved.start.replace(day=17, hour=17)
        moved.end = moved.end.replace(day=17, hour=18)
        moved.status, moved.sequence = OccurrenceStatus.MOVED, moved.sequence + 1
        session.add(
            Award(
                occurrence_id=first,
                physician_id=physician.id or 0,
                seconds=3600,
                credits={"AMA_PRA_1": 1.0},
                final=True,
                finalized_at=NOW,
            )
        )
        await session.commit()
        return World(series.id or 0, physician.id or 0, (first, second, third))


async def _every_kind(
    database: Database, world: World, title: str, description: str, first: str, last: str
) -> list[OutboxMessage]:
    """Store the text, clear the outbox, queue one message of every kind; the rows queued."""
    first_id, second_id, third_id = world.occurrences
    async with database.session() as session:
        await session.exec(delete(OutboxMessage))
        series = await session.get_one(Series, world.series_id)
        series.title, series.description = title, description
        physician = await session.get_one(Physician, world.physician_id)
        physician.first_name, physician.last_name = first, last
        await session.commit()
    async with database.session() as session:
        occurrence = await session.get_one(Occurrence, first_id)
        series = await session.get_one(Series, world.series_id)
        await enqueue_reminders(session, MAIL, occurrence, series, "P1D", now=NOW)
        await session.commit()
    for occurrence_id in (second_id, third_id):
        async with database.session() as session:
            await enqueue_notices(session, MAIL, occurrence_id, now=NOW)
            await session.commit()
    async with database.session() as session:  # a series that requires claims: the claim
        await session.exec(delete(Claim))
        series = await session.get_one(Series, world.series_id)
        series.claim_required = True
        await issue_certificates(session, MAIL, first_id, now=FINAL)
        (claim,) = (await session.exec(select(Claim))).all()
        await enqueue_claim_reminder(session, MAIL, claim, now=claim.closes_at - REMIND)
        series.claim_required = False
        await session.commit()
    async with database.session() as session:
        await issue_certificates(session, MAIL, first_id, now=AFTER)
        await session.commit()
    async with database.session() as session:
        await enqueue_statement(session, MAIL, world.physician_id, "2026-12", now=AFTER)
        await session.commit()
    async with database.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


def _kind(row: OutboxMessage, world: World) -> str:
    if row.kind != "notice":
        return row.kind
    return "cancelled" if row.occurrence_id == world.occurrences[1] else "moved"


def _squeezed(text: str) -> str:
    """``text`` without white space: Python's parser adds a space between two encoded-words of
    a display name (RFC 2047 says to ignore it), so names are compared without it."""
    return "".join(text.split())


def _check(row: OutboxMessage, world: World, title: str, first: str, last: str) -> None:
    """One stored message reads back whole: the headers expected and no others, one recipient,
    a one-line subject holding the title, bodies and attachments that parse."""
    kind = _kind(row, world)
    assert row.status == "pending", (kind, row.last_error)
    message = parse(row.raw)
    assert sorted(message.keys()) == HEADERS[kind]
    assert [type(defect).__name__ for defect in message.defects] == []
    (recipient,) = message["To"].addresses
    assert recipient.addr_spec == "jeanne.durand@example.org"
    assert _squeezed(recipient.display_name) == _squeezed(header_text(f"{first} {last}"))
    subject = str(message["Subject"])
    assert subject == row.subject
    assert not any(char in subject for char in LINE_BREAKS)
    if kind != "statement":
        assert _squeezed(header_text(title)) in _squeezed(subject)
    message.get_body(("plain",)).get_content()
    message.get_body(("html",)).get_content()
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_content_type() == "application/pdf":
            pages = PdfReader(io.BytesIO(payload)).pages
            assert pages and all(isinstance(page.extract_text(), str) for page in pages)
        else:
            (event,) = Calendar.from_ical(payload).walk("VEVENT")
            assert event.start is not None  # type: ignore[attr-defined]  # walk() types Events as Component


def _run_examples(database_url: str, language: str) -> None:
    nul = database_url.startswith("sqlite")
    with asyncio.Runner() as runner:
        database = Database(database_url)

        def run(step: Callable[[], Awaitable[T]]) -> T:
            return runner.run(step())  # type: ignore[arg-type]  # a coroutine in practice

        try:
            world = run(lambda: _build(database, language))

            @settings(
                max_examples=10,  # each example sends every kind of email, PDFs included
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(
                title=texts(min_size=1, max_size=200, nul=nul),
                description=texts(min_size=0, max_size=2000, nul=nul),
                first=texts(min_size=1, max_size=100, nul=nul),
                last=texts(min_size=1, max_size=100, nul=nul),
            )
            def every_kind_reads_back(title: str, description: str, first: str, last: str) -> None:
                rows = run(lambda: _every_kind(database, world, title, description, first, last))
                assert sorted(_kind(row, world) for row in rows) == sorted(HEADERS)
                for row in rows:
                    _check(row, world, title, first, last)

            every_kind_reads_back()
        finally:
            run(database.close)


def test_any_text_in_titles_descriptions_and_names_reaches_every_french_email_whole(
    database_url: str,
) -> None:
    _run_examples(database_url, "fr")


def test_any_text_in_titles_descriptions_and_names_reaches_every_english_email_whole(
    database_url: str,
) -> None:
    _run_examples(database_url, "en")
