"""Registrations of physicians to series (what their personal feed and emails cover)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError
from schedules.models import Series
from schedules.series import get_series
from tracker.domain.mailings import MailSettings
from tracker.domain.models import Physician, Registration
from tracker.domain.physicians import get_physician, physician_by_email
from tracker.domain.self_registrations import Placed, place, place_many


async def register(
    session: AsyncSession,
    mail: MailSettings,
    series_id: int,
    *,
    physician_id: int | None,
    email: str | None,
    now: datetime,
    over_capacity: bool = False,
) -> Placed:
    """Register a physician (by id or email), bound by the series' capacity unless
    ``over_capacity``: past it, the physician joins the waitlist (:func:`place`)."""
    await get_series(session, series_id)
    if physician_id is not None:
        physician = await get_physician(session, physician_id)
    else:
        found = await physician_by_email(session, email or "")
        if found is None:
            raise InvalidInputError("email", f"no physician with email {email}; create them first")
        physician = found
    return await place(session, mail, series_id, physician, now=now, over_capacity=over_capacity)


async def _get(session: AsyncSession, series_id: int, physician_id: int) -> Registration | None:
    query = select(Registration).where(
        Registration.series_id == series_id, Registration.physician_id == physician_id
    )
    return (await session.exec(query)).first()


async def unregister(session: AsyncSession, series_id: int, physician_id: int) -> None:
    if await _get(session, series_id, physician_id) is None:
        raise NotFoundError("registration", f"of physician {physician_id} to series {series_id}")
    await session.exec(
        delete(Registration).where(
            col(Registration.series_id) == series_id, col(Registration.physician_id) == physician_id
        )
    )


async def by_unsubscribe_token(
    session: AsyncSession, token: str
) -> tuple[Registration, Series, Physician] | None:
    """The registration a reminder's unsubscribe link names, with its series and physician."""
    row = (
        await session.exec(
            select(Registration, Series, Physician)
            .join(Series, col(Series.id) == col(Registration.series_id))
            .join(Physician, col(Physician.id) == col(Registration.physician_id))
            .where(Registration.unsubscribe_token == token)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


@dataclass
class BulkRegistration:
    """What registering a list of addresses did: new registrations, those already there, those
    put on (or already on) the waitlist, and the addresses no physician holds (in the order
    given); ``promoted``: physicians in line who got a seat first."""

    added: int = 0
    already: int = 0
    waitlisted: int = 0
    unknown: list[str] = field(default_factory=list)
    promoted: int = 0


async def register_emails(
    session: AsyncSession,
    mail: MailSettings,
    series_id: int,
    emails: list[str],
    *,
    now: datetime,
    over_capacity: bool = False,
) -> BulkRegistration:
    """Register the physicians holding ``emails`` (already normalised, at most a chunk of
    them: the caller commits between chunks) in the list's order, bound by the capacity unless
    ``over_capacity`` (:func:`place_many`). Flushes."""
    result = BulkRegistration()
    if not emails:
        return result
    await get_series(session, series_id)
    found = {
        p.email: p
        for p in (await session.exec(select(Physician).where(col(Physician.email).in_(emails))))
    }
    result.unknown = [e for e in emails if e not in found]
    listed = list({p.id: p for e in emails if (p := found.get(e)) is not None}.values())
    ids = [p.id for p in listed]
    there = set(
        (
            await session.exec(
                select(Registration.physician_id).where(
                    Registration.series_id == series_id, col(Registration.physician_id).in_(ids)
                )
            )
        ).all()
    )
    result.already = len(there)
    placed = await place_many(
        session,
        mail,
        series_id,
        [p for p in listed if p.id not in there],
        now=now,
        over_capacity=over_capacity,
    )
    result.added = len(listed) - len(there) - len(placed.lined) - len(placed.already_lined)
    result.waitlisted = len(placed.lined) + len(placed.already_lined)
    result.promoted = placed.promoted
    return result
