"""Claims (SPEC 7): the claim page's view, the claim itself (one transaction: the claim, its
answers, the certificate and its email), and the reminders before claims close."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schedules.clock import utcnow
from tracker.db import Database
from tracker.domain import claims
from tracker.domain.mailings import MailSettings, enqueue_claim_reminder, issue_certificates
from tracker.services.context import Services


async def claim_view(services: Services, code: str) -> claims.ClaimView | None:
    """The claim ``code`` names, as its page shows it (a look that changes nothing)."""
    async with services.database.session() as session:
        return await claims.view(session, code, now=utcnow())


@dataclass(frozen=True)
class ClaimOutcome:
    """What a submit did: ``done`` (with the credit claimed), ``invalid`` (the errors, by
    field, as message keys), ``claimed`` (already, by an earlier submit), ``closed``,
    ``unknown`` (no such link)."""

    status: Literal["done", "invalid", "claimed", "closed", "unknown"]
    view: claims.ClaimView | None = None
    errors: dict[str, str] | None = None
    credits: dict[str, float] | None = None


async def submit_claim(services: Services, code: str, form: claims.ClaimForm) -> ClaimOutcome:
    """Check and record the claim, then issue its certificate with the credit claimed and queue
    its email, all in one transaction: a claim is accepted once, with its certificate."""
    now = utcnow()
    async with services.database.session() as session:
        view = await claims.view(session, code, now=now)
        if view is None:
            return ClaimOutcome("unknown")
        if view.status != "open":
            return ClaimOutcome(view.status, view)
        parsed, errors = claims.check(view, form)
        if parsed is not None and not await claims.would_give_credit(session, view, parsed.minutes):
            parsed, errors = None, {"minutes": "claim.bad.nocredit"}
        if parsed is None:
            return ClaimOutcome("invalid", view, errors)
        credits = await claims.accept(session, view, parsed, now=now)
        if credits is None:  # another submit came first; closing the session rolls back
            return ClaimOutcome("claimed", view)  # (a rollback would expire the view's rows)
        await issue_certificates(
            session,
            services.mail,
            view.occurrence.id or 0,
            now=now,
            after=view.physician.id - 1 if view.physician.id else 0,
            limit=1,
        )
        await session.commit()
    services.poke()
    return ClaimOutcome("done", view, credits=credits)


async def send_claim_reminders(database: Database, mail: MailSettings, *, now: datetime) -> int:
    """The reminder to each physician who has not claimed, three days before their claim
    closes; one commit per batch. Idempotent: each reminder's outbox key, and its link's hash
    set once, make a second run (here or in another process) queue nothing again."""
    queued, after = 0, 0
    while True:
        async with database.session() as session:
            due = await claims.reminders_due(session, now=now, after=after)
            for claim in due:
                queued += await enqueue_claim_reminder(session, mail, claim, now=now)
            await session.commit()
        if len(due) < claims.REMINDER_BATCH:
            return queued
        after = due[-1].id or 0
