"""Self-registration use cases (SPEC 6): a request from the public page or its API, the
confirmation link, leaving a waitlist, seats added by a larger capacity. (Leaving a series is
``tracker.services.registrations.unregister``: the seat it frees goes to the first in line.)

Each function is one transaction; the outbox worker is woken after a commit that queued mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schedules.clock import utcnow
from schedules.models import Occurrence, Series
from schedules.series import get_public_series_by_slug
from tracker.domain import self_registrations, web_sessions
from tracker.domain.listing import Page, PageRequest
from tracker.domain.mailings import enqueue_welcomes
from tracker.domain.models import Physician, Registration, SelfRegistration
from tracker.domain.physicians import Newcomer
from tracker.domain.schemas import SelfRegistrationCreate
from tracker.domain.self_registrations import Confirmation
from tracker.domain.unkept_numbers import UnkeptNumber, unkept_numbers
from tracker.errors import EmailTakenError, IdentifierTakenError
from tracker.services import ingestion
from tracker.services.context import Services


async def request_registration(
    services: Services, series_id: int, data: SelfRegistrationCreate
) -> None:
    """Queue the confirmation email of a new request; answers nothing about the address."""
    async with services.database.session() as session:
        await self_registrations.request_registration(
            session, services.mail, series_id, data, now=utcnow()
        )
        await session.commit()
    services.poke()


@dataclass(frozen=True)
class Confirmed:
    """A used link: what it did, and the page session it opened for the physician (the link
    came to their address, as a sign-in link would)."""

    confirmation: Confirmation
    session_secret: str


async def confirm(services: Services, code: str) -> Confirmed | None:
    """Use a confirmation link; ``None`` if it opens nothing (unknown, used, expired). Done
    again once if another request created the same physician, or took one of the request's
    NPI or RPPS numbers, at the same moment."""
    for attempt in (1, 2):
        async with services.database.session() as session:
            try:
                now = utcnow()
                done = await self_registrations.confirm(session, services.mail, code, now=now)
                if done is None:
                    return None
                if done.token is not None:  # a new physician: welcomed as one created by hand
                    newcomer = Newcomer.of(done.physician, done.token)
                    await enqueue_welcomes(session, services.mail, [newcomer], now=now)
                _, raw = await web_sessions.open_session(session, subject=done.physician, now=now)
                await session.commit()
            except (EmailTakenError, IdentifierTakenError):
                await session.rollback()
                if attempt == 2:
                    raise
                continue
        services.poke()
        if done.created:  # attendance that arrived before them is theirs now
            await ingestion.match_later_events(services)
        return Confirmed(done, raw)
    return None  # pragma: no cover  # the loop returns or raises


async def leave_waitlist(services: Services, series_id: int, physician_id: int) -> int:
    async with services.database.session() as session:
        left = await self_registrations.leave_waitlist(session, series_id, physician_id)
        await session.commit()
    return left


# What the pages and the API read (read-only: nothing here commits) ----------------------------


@dataclass(frozen=True)
class PublicSeries:
    """A public series as its page shows it: the sessions to come and the seats taken."""

    series: Series
    upcoming: list[Occurrence]
    seats_taken: int


async def public_series(services: Services, slug: str) -> PublicSeries:
    """Raises ``NotFoundError`` for a slug no public series has."""
    async with services.database.session() as session:
        series = await get_public_series_by_slug(session, slug)
        upcoming = await self_registrations.next_sessions(session, series.id or 0, now=utcnow())
        taken = await self_registrations.seats_taken(session, series.id or 0)
    return PublicSeries(series, upcoming, taken)


async def pending_for_code(services: Services, code: str) -> tuple[SelfRegistration, Series] | None:
    """The request a confirmation link stands for, while it can still be confirmed."""
    async with services.database.session() as session:
        return await self_registrations.pending_for_code(session, code, now=utcnow())


@dataclass(frozen=True)
class SeriesRequests:
    """A series' self-registration counts and one page of one of its lists."""

    counts: self_registrations.Counts
    registered: Page[tuple[Registration, Physician]] | None = None
    requests: Page[tuple[SelfRegistration, int | None]] | None = None
    #: The numbers a request gave that its physician's record does not hold: by physician id
    #: in ``registered``, by request id in ``requests``.
    unkept: dict[int, list[UnkeptNumber]] = field(default_factory=dict)


async def registered_page(services: Services, series_id: int, asked: PageRequest) -> SeriesRequests:
    """The counts, and the physicians holding a seat, a page at a time."""
    async with services.database.session() as session:
        counts = await self_registrations.counts(session, series_id, now=utcnow())
        page = await self_registrations.registered_page(session, series_id, asked)
        requests = await self_registrations.requests_of(
            session, series_id, [physician.id or 0 for _, physician in page.rows]
        )
        unkept = await unkept_numbers(session, requests)
    by_physician = {
        row.physician_id or 0: unkept[row.id or 0] for row in requests if row.id in unkept
    }
    return SeriesRequests(counts, registered=page, unkept=by_physician)


async def requests_page(
    services: Services, series_id: int, asked: PageRequest, *, status: str | None
) -> SeriesRequests:
    """The counts, and the requests of ``status`` (any when ``None``), a page at a time."""
    now = utcnow()
    async with services.database.session() as session:
        counts = await self_registrations.counts(session, series_id, now=now)
        page = await self_registrations.requests_page(
            session, series_id, asked, status=status, now=now
        )
        unkept = await unkept_numbers(session, [row for row, _ in page.rows])
    return SeriesRequests(counts, requests=page, unkept=unkept)
