"""The NPI and RPPS numbers a self-registration gave that its physician's record does not hold.

Confirming a request never tells the public who is registered: a number another physician holds
is left off the new physician without a word (:func:`tracker.domain.self_registrations.
unheld_identifiers`), and a physician found by address keeps the record they had. The request
keeps the numbers as given; this module finds those that did not reach the record, for the
organiser's list of registrations and waitlist to show, so that a person decides whose number
it is (an NPI identifies one person, and the board export reports completions under it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.models import Physician, SelfRegistration
from tracker.domain.physicians import UNIQUE_IDENTIFIERS


@dataclass(frozen=True)
class UnkeptNumber:
    """A number a request gave (``field``: ``npi`` or ``rpps``) that its physician's record
    does not hold; ``holder``: the other physician who holds it, if one does."""

    field: str
    number: str
    holder: Physician | None = None


async def unkept_numbers(
    session: AsyncSession, requests: Sequence[SelfRegistration]
) -> dict[int, list[UnkeptNumber]]:
    """By request id, the numbers of these requests that their physician's record does not hold:
    held by another physician (also for a request not confirmed yet: it will not be kept), or
    missing from the record of a physician found by address. Three queries at most."""
    given = [
        (row, field) for row in requests for field in UNIQUE_IDENTIFIERS if getattr(row, field)
    ]
    if not given:
        return {}
    records = await _by_id(session, {row.physician_id for row, _ in given if row.physician_id})
    holders = await _holders(session, given)
    unkept: dict[int, list[UnkeptNumber]] = {}
    for row, field in given:
        number: str = getattr(row, field)
        record = records.get(row.physician_id or 0)
        if record is not None and getattr(record, field) == number:
            continue
        holder = holders.get((field, number))
        if holder is None and record is None:
            continue  # not confirmed yet, and nobody holds it: it will be kept
        unkept.setdefault(row.id or 0, []).append(UnkeptNumber(field, number, holder))
    return unkept


async def _by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Physician]:
    if not ids:
        return {}
    found = await session.exec(select(Physician).where(col(Physician.id).in_(list(ids))))
    return {physician.id or 0: physician for physician in found.all()}


async def _holders(
    session: AsyncSession, given: Sequence[tuple[SelfRegistration, str]]
) -> dict[tuple[str, str], Physician]:
    """``{(field, number): physician}`` holding the numbers given, a query per field."""
    holders: dict[tuple[str, str], Physician] = {}
    for field in UNIQUE_IDENTIFIERS:
        numbers = {getattr(row, field) for row, f in given if f == field}
        if not numbers:
            continue
        column = col(getattr(Physician, field))
        for physician in (await session.exec(select(Physician).where(column.in_(numbers)))).all():
            holders[(field, getattr(physician, field))] = physician
    return holders
