"""Registering physicians to series, unregistering them, and stopping their reminders."""

from __future__ import annotations

from sqlmodel import select

from schedules.clock import utcnow
from schedules.models import Series
from tracker.domain import registrations, self_registrations
from tracker.domain.models import Physician, Registration
from tracker.services.context import Services


async def register(
    services: Services,
    series_id: int,
    *,
    physician_id: int | None,
    email: str | None,
    over_capacity: bool = False,
) -> self_registrations.Placed:
    """Register by id or by address, bound by the series' capacity (past it: the waitlist)
    unless ``over_capacity``. Two requests for the last seat give one seat and one place in
    line: seats are counted under a lock on the series row."""
    async with services.database.session() as session:
        placed = await registrations.register(
            session,
            services.mail,
            series_id,
            physician_id=physician_id,
            email=email,
            now=utcnow(),
            over_capacity=over_capacity,
        )
        await session.commit()
    if placed.promoted:
        services.poke()
    return placed


async def unregister(services: Services, series_id: int, physician_id: int) -> int:
    """Take a physician off a series (organiser API or their own page); a seat it frees goes
    to the first in line, who is told. Returns how many moved up."""
    async with services.database.session() as session:
        series = await self_registrations.lock_series(session, series_id)
        await registrations.unregister(session, series_id, physician_id)
        promoted = await self_registrations.fill_seats(session, services.mail, series, now=utcnow())
        await session.commit()
    if promoted:
        services.poke()
    return len(promoted)


async def stop_reminders(services: Services, registration_id: int) -> None:
    """The one-click unsubscribe (RFC 8058): this registration gets no more reminders."""
    async with services.database.session() as session:
        row = await session.get_one(Registration, registration_id)
        row.reminders = False
        await session.commit()


async def choose_reminders(services: Services, physician_id: int, wanted: set[int]) -> None:
    """The physician's page: reminders on for the series in ``wanted``, off for the others."""
    async with services.database.session() as session:
        query = select(Registration).where(Registration.physician_id == physician_id)
        for registration in (await session.exec(query)).all():
            registration.reminders = registration.series_id in wanted
        await session.commit()


async def unsubscribe_link(
    services: Services, token: str
) -> tuple[Registration, Series, Physician] | None:
    """What a reminder's unsubscribe link stands for; ``None`` for an unknown link."""
    async with services.database.session() as session:
        return await registrations.by_unsubscribe_token(session, token)


#: Addresses per transaction when registering a list (one commit each: a short write lock).
BULK_CHUNK = 1000


async def register_emails(
    services: Services, series_id: int, emails: list[str], *, over_capacity: bool = False
) -> registrations.BulkRegistration:
    """Register every physician of a pasted or uploaded list of addresses to a series, in the
    list's order, bound by the capacity (past it: the waitlist, in the list's order) unless
    ``over_capacity``; an address twice, or already registered, is counted once. Raises
    ``NotFoundError`` for an unknown series."""
    unique = list(dict.fromkeys(emails))
    total = registrations.BulkRegistration()
    for start in range(0, max(len(unique), 1), BULK_CHUNK):
        async with services.database.session() as session:
            done = await registrations.register_emails(
                session,
                services.mail,
                series_id,
                unique[start : start + BULK_CHUNK],
                now=utcnow(),
                over_capacity=over_capacity,
            )
            await session.commit()
        total.added += done.added
        total.already += done.already
        total.waitlisted += done.waitlisted
        total.unknown += done.unknown
        total.promoted += done.promoted
    if total.promoted:
        services.poke()
    return total
