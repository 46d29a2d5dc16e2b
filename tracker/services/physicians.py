"""The organiser's and the physician's use cases on physicians, their tokens and requirements.

Each function commits once. A new physician, or a changed address, may match attendance events
that arrived before them: those are matched after the commit and their awards recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select

from notifications.models import OutboxMessage
from schedules.clock import utcnow
from schedules.models import Occurrence, Series
from tracker.domain import (
    agenda,
    awards,
    credit_rules,
    physicians,
    requirements,
    self_registrations,
)
from tracker.domain.credit_rules import CreditRules
from tracker.domain.mailings import enqueue_welcomes
from tracker.domain.models import Certificate, Physician, Registration, SelfRegistration
from tracker.domain.physicians import Newcomer
from tracker.domain.schemas import (
    CreditSummary,
    PhysicianCreate,
    PhysicianUpdate,
    RequirementCreate,
)
from tracker.services import ingestion, sign_in_links
from tracker.services.context import Services


async def create_physician(
    services: Services, data: PhysicianCreate, *, send_welcome: bool = True
) -> tuple[Physician, str]:
    """Store a physician and, unless told not to, queue their welcome email in the same
    transaction; returns them with their personal token, shown this once."""
    now = utcnow()
    async with services.database.session() as session:
        physician, token = await physicians.create_physician(session, data, now=now)
        if send_welcome:
            await enqueue_welcomes(session, services.mail, [Newcomer.of(physician, token)], now=now)
        await session.commit()
    if send_welcome:
        services.poke()
    await ingestion.match_later_events(services)
    return physician, token


async def update_physician(
    services: Services, physician_id: int, data: PhysicianUpdate
) -> Physician:
    async with services.database.session() as session:
        physician = await physicians.update_physician(session, physician_id, data, now=utcnow())
        await session.commit()
    if data.email is not None:
        await ingestion.match_later_events(services)
    return physician


async def rotate_token(services: Services, physician_id: int) -> tuple[str, str]:
    """A new personal token and feed key; the old ones, and every session opened with the old
    token, stop working. Returns (token, feed key)."""
    async with services.database.session() as session:
        physician, token = await physicians.rotate_token(session, physician_id, now=utcnow())
        feed_secret = physician.feed_secret or ""
        await session.commit()
    return token, feed_secret


@dataclass(frozen=True)
class PhysicianPage:
    """Everything the physician's own page shows, read in one visit."""

    feed_key: str
    summary: CreditSummary
    #: Occurrences the physician holds a certificate of.
    certified: set[int]
    #: Occurrences whose latest certificate was withdrawn: when, and why
    #: (:mod:`tracker.domain.withdrawals`).
    withdrawn: dict[int, tuple[datetime, str]]
    registrations: list[tuple[Registration, Series]]
    upcoming: list[tuple[Occurrence, Series]]
    #: The credit rules of the sessions in ``summary``, by occurrence id (each session's own
    #: once its credits are final: :mod:`tracker.domain.credit_rules`).
    attended: dict[int, CreditRules]
    #: (request, series, place in line) of each waitlist the physician is on.
    waitlist: list[tuple[SelfRegistration, Series, int]]


async def physician_page(
    services: Services, physician: Physician, *, now: datetime
) -> PhysicianPage:
    """The physician's page as of ``now``: pending awards settled first, and a feed key given
    to a row that has none (rows written around the ORM)."""
    pid = physician.id or 0
    await ingestion.settle(services, physician_id=pid)
    feed_key = physician.feed_secret
    if feed_key is None:
        async with services.database.session() as session:
            feed_key = await physicians.ensure_feed_secret(session, pid)
            await session.commit()
    async with services.database.session() as session:
        summary = await awards.credit_summary(session, pid, now=now)
        held = (
            await session.exec(
                select(
                    Certificate.occurrence_id,
                    Certificate.withdrawn_at,
                    Certificate.withdrawn_reason,
                )
                .where(Certificate.physician_id == pid)
                .order_by(col(Certificate.version))
            )
        ).all()
        certified = {occurrence_id for occurrence_id, _, _ in held}
        latest = {occurrence_id: (at, reason) for occurrence_id, at, reason in held}
        withdrawn = {
            occurrence_id: (at, reason or "no_credit")
            for occurrence_id, (at, reason) in latest.items()
            if at is not None
        }
        registrations = (
            await session.exec(
                select(Registration, Series)
                .join(Series, col(Series.id) == col(Registration.series_id))
                .where(Registration.physician_id == pid)
                .order_by(col(Series.title))
            )
        ).all()
        upcoming = await agenda.upcoming_for(session, pid, now=now)
        attended = await credit_rules.rules_by_session(
            session, [a.occurrence_id for a in summary.awards]
        )
        waitlist = await self_registrations.waitlisted_for(session, pid)
    return PhysicianPage(
        feed_key,
        summary,
        certified,
        withdrawn,
        [(r, s) for r, s in registrations],
        list(upcoming),
        attended,
        list(waitlist),
    )


async def credit_summary(services: Services, physician_id: int) -> CreditSummary:
    """The summary as of now (the physician's pending awards are recomputed first)."""
    await ingestion.settle(services, physician_id=physician_id)
    async with services.database.session() as session:
        return await awards.credit_summary(session, physician_id, now=utcnow())


async def add_requirement(
    services: Services, physician_id: int, data: RequirementCreate
) -> CreditSummary:
    async with services.database.session() as session:
        await requirements.add_requirement(session, physician_id, data)
        await session.commit()
    return await credit_summary(services, physician_id)


async def delete_requirement(services: Services, physician_id: int, requirement_id: int) -> None:
    async with services.database.session() as session:
        await requirements.delete_requirement(session, physician_id, requirement_id)
        await session.commit()


async def get_physician(services: Services, physician_id: int) -> Physician:
    """Raises ``NotFoundError`` for an unknown physician."""
    async with services.database.session() as session:
        return await physicians.get_physician(session, physician_id)


# issue 12: the organiser's page of one physician ---------------------------------------------

#: The latest messages to a physician the organiser's page lists.
RECENT_MESSAGES = 50


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate as the physician's page lists it: its code, and whether it was revoked,
    when and why."""

    code: str
    revoked_at: datetime | None
    revoked_reason: str | None
    #: withdrawn since, and why (:mod:`tracker.domain.withdrawals`)
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None


@dataclass(frozen=True)
class OrganiserPhysicianView:
    """One physician as the organiser's page shows them: their series, awards and requirements
    (pending awards settled first), and the latest emails queued for them (without bytes)."""

    physician: Physician
    summary: CreditSummary
    registrations: list[Series]
    messages: list[OutboxMessage]
    #: the latest certificate of each session, by occurrence id (a re-issue replaces one)
    certificates: dict[int, IssuedCertificate] = field(default_factory=dict)


async def organiser_view(services: Services, physician_id: int) -> OrganiserPhysicianView:
    """Raises ``NotFoundError`` for an unknown physician."""
    async with services.database.session() as session:
        await physicians.get_physician(session, physician_id)
    await ingestion.settle(services, physician_id=physician_id)
    async with services.database.session() as session:
        physician = await physicians.get_physician(session, physician_id)
        summary = await awards.credit_summary(session, physician_id, now=utcnow())
        series = (
            await session.exec(
                select(Series)
                .join(Registration, col(Series.id) == col(Registration.series_id))
                .where(Registration.physician_id == physician_id)
                .order_by(col(Series.title))
            )
        ).all()
        messages = (
            await session.exec(
                select(OutboxMessage)
                .options(defer(cast(QueryableAttribute[Any], OutboxMessage.raw)))
                .where(OutboxMessage.physician_id == physician_id)
                .order_by(col(OutboxMessage.id).desc())
                .limit(RECENT_MESSAGES)
            )
        ).all()
        issued = (
            await session.exec(
                select(Certificate)
                .where(Certificate.physician_id == physician_id)
                .order_by(col(Certificate.occurrence_id), col(Certificate.version))
            )
        ).all()
    latest = {
        c.occurrence_id: IssuedCertificate(
            c.code, c.revoked_at, c.revoked_reason, c.withdrawn_at, c.withdrawn_reason
        )
        for c in issued
    }
    return OrganiserPhysicianView(physician, summary, list(series), list(messages), latest)


async def resend_welcome(services: Services, physician_id: int) -> None:
    """A new welcome email, with a new personal link: the token is stored as a hash, so the
    old link cannot be sent again; it stops working, as after a rotation."""
    now = utcnow()
    async with services.database.session() as session:
        physician, token = await physicians.rotate_token(session, physician_id, now=now)
        await enqueue_welcomes(session, services.mail, [Newcomer.of(physician, token)], now=now)
        await session.commit()
    services.poke()


async def send_sign_in_link(services: Services, physician_id: int) -> bool:
    """A one-time sign-in link to the physician's address, as if they had asked for it (the
    same per-address limit); returns whether one was queued. Raises ``NotFoundError``."""
    async with services.database.session() as session:
        email = (await physicians.get_physician(session, physician_id)).email
    return await sign_in_links.request_link(services, email)
