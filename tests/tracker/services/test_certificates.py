"""Certificates are issued batch by batch: a run interrupted half-way keeps what it committed,
and the next run queues the rest, each certificate once, with the code stored first, whether
their PDFs are drawn on the event loop or in worker processes."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from sqlalchemy import delete
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.rendering import ProcessRenderer
from tests.factories import ended_session, job_context
from tests.pdf_tools import pdftotext
from tracker.db import Database
from tracker.domain import mailings
from tracker.domain.models import Certificate
from tracker.services.certificates import issue_certificates
from tracker.services.finalisation import finalize

GRACE = timedelta(minutes=90)
NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


async def _queued(database: Database) -> dict[str, str]:
    """Each certificate email's key and the code its PDF's file name carries."""
    async with database.session() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    codes: dict[str, str] = {}
    for row in rows:
        message = email.message_from_bytes(row.raw)
        (pdf,) = (
            part for part in message.walk() if isinstance(part, Message) and part.get_filename()
        )
        codes[row.key] = str(pdf.get_filename()).removeprefix("certificate-").removesuffix(".pdf")
    assert len(codes) == len(rows)  # each key once
    return codes


async def _certificates(database: Database) -> dict[int, str]:
    async with database.session() as session:
        rows = (await session.exec(select(Certificate))).all()
    return {row.physician_id: row.code for row in rows}


async def test_a_run_interrupted_between_batches_is_resumed_without_duplicates_or_loss(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    occurrence = await ended_session(database, 40, ended=NOW - GRACE * 2, certified=35)
    assert await finalize(database, occurrence, now=NOW, grace=GRACE)
    mail = job_context(database, None).mail
    batches = 0
    insert = mailings._insert_ignoring

    def failing_in_the_third_batch(session: object, table: object, unique: list[str]) -> object:
        """The third batch dies after storing its certificates, before queueing its emails."""
        nonlocal batches
        if table is OutboxMessage:
            batches += 1
            if batches == 3:
                raise RuntimeError("the process stops here")
        return insert(session, table, unique)  # type: ignore[arg-type]

    monkeypatch.setattr(mailings, "_insert_ignoring", failing_in_the_third_batch)
    with pytest.raises(RuntimeError):
        await issue_certificates(database, mail, occurrence, now=NOW, batch_size=10)
    interrupted = await _queued(database)
    stored_then = await _certificates(database)
    monkeypatch.undo()
    resumed = await issue_certificates(database, mail, occurrence, now=NOW, batch_size=10)
    again = await issue_certificates(database, mail, occurrence, now=NOW, batch_size=10)
    queued = await _queued(database)
    stored = await _certificates(database)

    assert (len(interrupted), len(stored_then)) == (20, 20)
    assert (resumed, again) == (15, 0)
    assert len(queued) == len(stored) == 35
    assert {key: queued[key] for key in interrupted} == interrupted  # nothing sent twice
    assert {pid: stored[pid] for pid in stored_then} == stored_then  # codes kept
    assert sorted(queued.values()) == sorted(stored.values())  # each email, its stored code
    assert sorted(queued) == sorted(f"certificate:{occurrence}:{pid}:v1" for pid in stored)


async def test_certificates_stored_by_a_run_that_died_before_queueing_keep_their_code(
    database: Database,
) -> None:
    """A certificate stored without its email (a process that committed one and not the other
    cannot exist, but an older release stored them apart) is sent with its stored code."""
    occurrence = await ended_session(database, 12, ended=NOW - GRACE * 2, certified=12)
    assert await finalize(database, occurrence, now=NOW, grace=GRACE)
    mail = job_context(database, None).mail
    async with database.session() as session:
        await mailings.issue_certificates(session, mail, occurrence, now=NOW, limit=5)
        await session.exec(delete(OutboxMessage))
        await session.commit()
    stored_then = await _certificates(database)

    queued = await issue_certificates(database, mail, occurrence, now=NOW, batch_size=4)

    assert queued == 12
    assert len(stored_then) == 5
    stored = await _certificates(database)
    assert {pid: stored[pid] for pid in stored_then} == stored_then
    assert sorted((await _queued(database)).values()) == sorted(stored.values())


async def test_the_outbox_worker_is_woken_after_each_batch_that_queued_some(
    database: Database,
) -> None:
    occurrence = await ended_session(database, 30, ended=NOW - GRACE * 2, certified=25)
    assert await finalize(database, occurrence, now=NOW, grace=GRACE)
    mail = job_context(database, None).mail
    woken: list[int] = []

    def poke() -> None:
        woken.append(1)

    first = await issue_certificates(database, mail, occurrence, now=NOW, batch_size=10, poke=poke)
    again = await issue_certificates(database, mail, occurrence, now=NOW, batch_size=10, poke=poke)

    assert (first, again) == (25, 0)
    assert len(woken) == 3  # 10, 10, 5 certified among the 30 in three batches; none the 2nd time
    assert len(await _queued(database)) == 25


async def test_certificates_drawn_in_worker_processes_carry_their_stored_code(
    database: Database,
) -> None:
    occurrence = await ended_session(database, 30, ended=NOW - GRACE * 2, certified=25)
    assert await finalize(database, occurrence, now=NOW, grace=GRACE)
    mail = job_context(database, None).mail
    pdfs = ProcessRenderer(1)
    try:
        queued = await issue_certificates(
            database, mail, occurrence, now=NOW, batch_size=10, pdfs=pdfs
        )
        again = await issue_certificates(
            database, mail, occurrence, now=NOW, batch_size=10, pdfs=pdfs
        )
    finally:
        pdfs.close()

    assert (queued, again) == (25, 0)
    stored = await _certificates(database)
    printed = await _printed(database)
    assert sorted(printed) == sorted(stored.values())
    assert all(f"{mail.base_url}/certificates/{code}" in lines for code, lines in printed.items())


async def _printed(database: Database) -> dict[str, list[str]]:
    """Each certificate email's code (from its PDF's file name) and its PDF read back."""
    async with database.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    printed: dict[str, list[str]] = {}
    for row in rows:
        message = email.message_from_bytes(row.raw)
        (pdf,) = (
            part for part in message.walk() if isinstance(part, Message) and part.get_filename()
        )
        code = str(pdf.get_filename()).removeprefix("certificate-").removesuffix(".pdf")
        payload = pdf.get_payload(decode=True)
        assert isinstance(payload, bytes)
        printed[code] = pdftotext(payload)
    return printed
