"""Registrations of physicians to series (what their personal feed and emails cover)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError
from schedules.models import Series
from schedules.series import get_series
from tracker.domain.models import Physician, Registration
from tracker.domain.physicians import get_physician, physician_by_email


async def register(
    session: AsyncSession,
    series_id: int,
    *,
    physician_id: int | None,
    email: str | None,
    now: datetime,
) -> tuple[Registration, bool]:
    """Register a physician (by id or email); returns the registration and whether it is new."""
    await get_series(session, series_id)
    if physician_id is not None:
        physician = await get_physician(session, physician_id)
    else:
        found = await physician_by_email(session, email or "")
        if found is None:
            raise InvalidInputError("email", f"no physician with email {email}; create them first")
        physician = found
    pid = physician.id or 0
    existing = await _get(session, series_id, pid)
    if existing is not None:
        return existing, False
    registration = Registration(series_id=series_id, physician_id=pid, created_at=now)
    session.add(registration)
    try:
        await session.flush()
    except IntegrityError:  # registered concurrently: same outcome
        await session.rollback()
        again = await _get(session, series_id, pid)
        if again is None:
            raise
        return again, False
    return registration, True


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
    """What registering a list of addresses did: new registrations, those already there, and
    the addresses no physician holds (in the order given)."""

    added: int = 0
    already: int = 0
    unknown: list[str] = field(default_factory=list)


async def register_emails(
    session: AsyncSession, series_id: int, emails: list[str], *, now: datetime
) -> BulkRegistration:
    """Register the physicians holding ``emails`` (already normalised, at most a chunk of
    them: the caller commits between chunks), with one query for the physicians, one for the
    registrations already there and one insert. Flushes."""
    result = BulkRegistration()
    if not emails:
        return result
    await get_series(session, series_id)
    found = dict(
        (
            await session.exec(
                select(Physician.email, Physician.id).where(col(Physician.email).in_(emails))
            )
        ).all()
    )
    result.unknown = [e for e in emails if e not in found]
    ids = {pid for pid in found.values() if pid is not None}
    there = set(
        (
            await session.exec(
                select(Registration.physician_id).where(
                    Registration.series_id == series_id, col(Registration.physician_id).in_(ids)
                )
            )
        ).all()
    )
    result.already = len(ids & there)
    new = sorted(ids - there)
    session.add_all(
        [Registration(series_id=series_id, physician_id=pid, created_at=now) for pid in new]
    )
    await session.flush()
    result.added = len(new)
    return result
