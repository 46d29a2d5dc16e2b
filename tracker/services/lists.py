"""The lists the API and the organiser pages read, one bounded page at a time (SPEC section 5).

Each function is one read-only use case: it opens a short session, reads one page through
:mod:`tracker.domain.listing`, and holds no connection once it returns. Nothing commits here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from notifications.models import OutboxMessage
from schedules.models import Occurrence, Series
from tracker.domain import listing
from tracker.domain.listing import Attendee, Page, PageRequest
from tracker.domain.models import AttendanceEvent, Physician, Registration
from tracker.services.context import Services
from tracker.services.ingestion import settle

__all__ = [
    "OutboxView",
    "attendance_page",
    "occurrences_page",
    "outbox_page",
    "physicians_page",
    "registrations_page",
    "series_page",
    "unmatched_page",
]


async def series_page(services: Services, asked: PageRequest) -> Page[Series]:
    async with services.database.session() as session:
        return await listing.series_page(session, asked)


async def occurrences_page(
    services: Services,
    series_id: int,
    asked: PageRequest,
    *,
    start_from: datetime | None = None,
    until: datetime | None = None,
) -> Page[Occurrence]:
    async with services.database.session() as session:
        return await listing.occurrences_page(
            session, series_id, asked, start_from=start_from, until=until
        )


async def physicians_page(
    services: Services, asked: PageRequest, *, search: str | None = None, email: str | None = None
) -> Page[Physician]:
    async with services.database.session() as session:
        return await listing.physicians_page(session, asked, search=search, email=email)


async def registrations_page(
    services: Services, series_id: int, asked: PageRequest
) -> Page[Registration]:
    async with services.database.session() as session:
        return await listing.registrations_page(session, series_id, asked)


async def attendance_page(
    services: Services,
    occurrence_id: int,
    asked: PageRequest,
    *,
    now: datetime,
    search: str | None = None,
    physician_id: int | None = None,
) -> Page[Attendee]:
    """A session's attendees by name, after its pending awards are recomputed."""
    await settle(services, occurrence_id=occurrence_id)
    async with services.database.session() as session:
        return await listing.attendance_page(
            session, occurrence_id, asked, now=now, search=search, physician_id=physician_id
        )


async def unmatched_page(
    services: Services, asked: PageRequest, *, search: str | None = None
) -> Page[AttendanceEvent]:
    async with services.database.session() as session:
        return await listing.unmatched_page(session, asked, search=search)


@dataclass(frozen=True)
class OutboxView:
    page: Page[OutboxMessage]
    #: Every kind present in the outbox, for a filter (empty unless asked for).
    kinds: list[str]
    #: ``{status: messages}`` of the kind asked (empty unless kinds are asked for).
    counts: dict[str, int] = field(default_factory=dict)


async def outbox_page(
    services: Services,
    asked: PageRequest,
    *,
    status: str | None = None,
    kind: str | None = None,
    with_kinds: bool = False,
) -> OutboxView:
    async with services.database.session() as session:
        page = await listing.outbox_page(session, asked, status=status, kind=kind)
        kinds = await listing.outbox_kinds(session) if with_kinds else []
        counts = await listing.outbox_counts(session, kind=kind) if with_kinds else {}
    return OutboxView(page, kinds, counts)
