"""Issuing an occurrence's certificates: batch by batch, each batch its own short transaction.

A batch (:data:`~tracker.domain.mailings.CERTIFICATE_BATCH` physicians, in id order) stores its
certificates and queues their emails in one commit. A run interrupted between two batches (an
error, a stop, a killed process) keeps what it committed; the next run, here or in another
process, skips every key already queued and goes on, so each certificate is queued once and
none is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from notifications.rendering import INLINE, Renderer
from tracker.db import Database
from tracker.domain import verification
from tracker.domain.mailings import CERTIFICATE_BATCH, MailSettings, latest_certificate_pdf
from tracker.domain.mailings import issue_certificates as issue_batch
from tracker.domain.models import Physician
from tracker.domain.schemas import CertificateCheck
from tracker.services.context import Services


async def issue_certificates(
    database: Database,
    mail: MailSettings,
    occurrence_id: int,
    *,
    now: datetime,
    batch_size: int = CERTIFICATE_BATCH,
    poke: Callable[[], None] = lambda: None,
    still_ours: Callable[[], Awaitable[bool]] | None = None,
    pdfs: Renderer = INLINE,
) -> int:
    """Certificates (and their emails) for every final award with credit at this occurrence
    that has none queued yet; returns how many emails were queued. ``poke`` (the outbox
    worker's) is called after each batch that queued some, so that sending starts with the
    first batch rather than after the last. ``still_ours`` (a finalisation's lease renewal) is
    awaited before each batch: when it answers False, the run stops there. ``pdfs`` draws the
    PDFs (the service's worker processes; by default on the event loop)."""
    queued, after = 0, 0
    while True:
        if still_ours is not None and not await still_ours():
            return queued
        async with database.session() as session:
            batch = await issue_batch(
                session, mail, occurrence_id, now=now, after=after, limit=batch_size, pdfs=pdfs
            )
            await session.commit()
        if batch.queued:
            poke()
        queued += batch.queued
        if batch.last is None:
            return queued
        after = batch.last


async def check_certificate(services: Services, code: str) -> tuple[CertificateCheck, str] | None:
    """The public check of a certificate code, with the session's timezone; ``None``: unknown."""
    async with services.database.session() as session:
        return await verification.check_certificate(session, code)


async def certificate_pdf(
    services: Services, physician: Physician, occurrence_id: int
) -> tuple[str, bytes] | None:
    """The physician's newest certificate for a session as (code, PDF), if they have one."""
    async with services.database.session() as session:
        return await latest_certificate_pdf(session, services.mail, physician, occurrence_id)
