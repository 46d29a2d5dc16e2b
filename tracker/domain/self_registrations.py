"""Self-registration (SPEC 6): a request on a series' public page, confirmed by a one-time link
sent to the address (double opt-in), then a seat or a place on the waitlist.

Seats are counted under a lock on the series row (:func:`lock_series`, an ``UPDATE`` that
changes nothing: a row lock on PostgreSQL, the write lock on SQLite), so two confirmations for
the last seat never both get it: the second one counts the first one's registration and waits
in line. Whatever frees or adds seats (an unregistration, a larger capacity) calls
:func:`fill_seats` under the same lock, which moves the first in line up and tells them.

The link's code is 256 random bits, kept only as its SHA-256, cleared by the ``UPDATE`` that
uses it (one use, whoever comes first) and dead after :data:`CODE_LIFETIME`.
"""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import NotFoundError
from schedules.models import Occurrence, OccurrenceStatus, Series
from tracker.domain import physicians
from tracker.domain.listing import Order, Page, PageRequest, keyset_page
from tracker.domain.localtime import when_zoned
from tracker.domain.mailings import MailSettings, message_for, queue_message
from tracker.domain.models import Physician, Registration, SelfRegistration
from tracker.domain.schemas import PhysicianCreate, SelfRegistrationCreate
from tracker.domain.tokens import hash_token
from tracker.errors import RegistrationClosedError

log = logging.getLogger(__name__)

PENDING, WAITLISTED, REGISTERED, CANCELLED = "pending", "waitlisted", "registered", "cancelled"
STATUSES = (PENDING, WAITLISTED, REGISTERED, CANCELLED)
#: How long a confirmation link works.
CODE_LIFETIME = timedelta(hours=48)
CODE_BYTES = 32
Outcome = Literal["registered", "waitlisted", "already_registered", "already_waitlisted"]


@dataclass(frozen=True)
class Confirmation:
    """What a used link did: the series, the physician (``created`` if new), the outcome and,
    on the waitlist, the place in line (1: next)."""

    series: Series
    physician: Physician
    outcome: Outcome
    created: bool
    position: int | None = None
    #: The personal token of a physician created here (for their welcome email), else None.
    token: str | None = None


def confirm_url(mail: MailSettings, code: str) -> str:
    return f"{mail.base_url}/registration/{code}"


def series_url(mail: MailSettings, series: Series) -> str:
    return f"{mail.base_url}/series/{series.slug}"


async def open_series(session: AsyncSession, series_id: int, *, now: datetime) -> Series:
    """The series, if it takes self-registration now; hidden series are unknown (404). A
    series whose every session is over (or cancelled) takes none: a confirmation email and a
    waitlist for nothing to come would mislead (:class:`RegistrationClosedError`, ``ended``)."""
    series = await session.get(Series, series_id)
    if series is None or not series.public:
        raise NotFoundError("series", series_id)
    if series.registration != "open":
        raise RegistrationClosedError(series_id, series.registration)
    if not has_sessions_to_come(await next_sessions(session, series_id, now=now)):
        raise RegistrationClosedError(series_id, "ended")
    return series


def has_sessions_to_come(upcoming: list[Occurrence]) -> bool:
    """Whether a session of these (:func:`next_sessions`) will take place."""
    return any(o.status != OccurrenceStatus.CANCELLED for o in upcoming)


async def next_sessions(
    session: AsyncSession, series_id: int, *, now: datetime, limit: int = 12
) -> list[Occurrence]:
    """The series' sessions not yet over, in start order (cancelled ones included)."""
    query = (
        select(Occurrence)
        .where(Occurrence.series_id == series_id, Occurrence.end > now)
        .order_by(col(Occurrence.start), col(Occurrence.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


# Requests and their confirmation email --------------------------------------------------------


async def request_registration(
    session: AsyncSession,
    mail: MailSettings,
    series_id: int,
    data: SelfRegistrationCreate,
    *,
    now: datetime,
) -> SelfRegistration:
    """Store a pending request and queue its confirmation email (key
    ``self-registration:{request}:{code hash head}``): the same for every address, known or not, registered or
    not, so that the answer tells nothing about who is here. The caller commits."""
    series = await open_series(session, series_id, now=now)
    code = secrets.token_urlsafe(CODE_BYTES)
    row = SelfRegistration(
        series_id=series_id,
        email=physicians.email_key(data.email),
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        timezone=data.timezone,
        npi=data.npi,
        rpps=data.rpps,
        consent_board_reporting=data.consent_board_reporting,
        status=PENDING,
        code_hash=hash_token(code),
        expires_at=now + CODE_LIFETIME,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    context = {
        "series_title": series.title,
        "confirm_url": confirm_url(mail, code),
        "series_url": series_url(mail, series),
        "expires_text": when_zoned(row.expires_at, row.timezone, row.language),
        "next_text": await _next_text(session, series_id, row.timezone, row.language, now=now),
    }
    await queue_message(
        session,
        functools.partial(message_for, row, mail, "self_registration", context, now=now),
        recipient=row.email,
        physician_id=row.physician_id,
        # The hash's head too: a row id can come back after a series (and its rows) is deleted.
        key=f"self-registration:{row.id}:{(row.code_hash or '')[:16]}",
        kind="self_registration",
        now=now,
    )
    return row


# Seats --------------------------------------------------------------------------------------


async def lock_series(session: AsyncSession, series_id: int) -> Series:
    """Hold the series row until the transaction ends (an ``UPDATE`` that changes nothing), so
    that seats are counted by one transaction at a time; then the series as it is now."""
    result = await session.exec(
        update(Series)
        .where(col(Series.id) == series_id)
        .values(registration=col(Series.registration))
    )
    if result.rowcount == 0:
        raise NotFoundError("series", series_id)
    series = await session.get(Series, series_id, populate_existing=True)
    assert series is not None
    return series


async def _next_text(
    session: AsyncSession, series_id: int, timezone: str, language: str, *, now: datetime
) -> str:
    """When the series' next session that takes place is, for an email ("" if none is)."""
    upcoming = await next_sessions(session, series_id, now=now, limit=5)
    first = next((o for o in upcoming if o.status != OccurrenceStatus.CANCELLED), None)
    return when_zoned(first.start, timezone, language) if first else ""


async def seats_taken(session: AsyncSession, series_id: int) -> int:
    query = (
        select(func.count()).select_from(Registration).where(Registration.series_id == series_id)
    )
    return int((await session.exec(query)).one())


async def _free_seats(session: AsyncSession, series: Series) -> int | None:
    """Seats left (``None``: no capacity, no limit)."""
    if series.capacity is None:
        return None
    return max(0, series.capacity - await seats_taken(session, series.id or 0))


async def _registration(
    session: AsyncSession, series_id: int, physician_id: int
) -> Registration | None:
    query = select(Registration).where(
        Registration.series_id == series_id, Registration.physician_id == physician_id
    )
    return (await session.exec(query)).first()


WAITLIST_ORDER: Order = (
    (col(SelfRegistration.confirmed_at), False),
    (col(SelfRegistration.id), False),
)


def _waitlist(series_id: int) -> Any:
    return select(SelfRegistration).where(
        SelfRegistration.series_id == series_id, SelfRegistration.status == WAITLISTED
    )


async def position(session: AsyncSession, row: SelfRegistration) -> int:
    """The place in line of a waitlisted request (1: the next to get a seat)."""
    query = (
        select(func.count())
        .select_from(SelfRegistration)
        .where(
            SelfRegistration.series_id == row.series_id,
            SelfRegistration.status == WAITLISTED,
            or_(
                col(SelfRegistration.confirmed_at) < row.confirmed_at,
                and_(
                    col(SelfRegistration.confirmed_at) == row.confirmed_at,
                    col(SelfRegistration.id) < row.id,
                ),
            ),
        )
    )
    return int((await session.exec(query)).one()) + 1


async def fill_seats(
    session: AsyncSession, mail: MailSettings, series: Series, *, now: datetime
) -> list[SelfRegistration]:
    """Move the first in line up while seats are free, each with a "you are in" email (key
    ``waitlist-promoted:{request}:{physician}:{when}``). Call it under :func:`lock_series`; the caller commits."""
    promoted: list[SelfRegistration] = []
    while True:
        free = await _free_seats(session, series)
        if free == 0:
            return promoted
        query = _waitlist(series.id or 0).order_by(
            col(SelfRegistration.confirmed_at), col(SelfRegistration.id)
        )
        batch = list((await session.exec(query.limit(free or 100))).all())
        if not batch:
            return promoted
        for row in batch:
            physician = await session.get(Physician, row.physician_id) if row.physician_id else None
            if physician is None:  # the physician was deleted meanwhile
                row.status = CANCELLED
                continue
            if await _registration(session, series.id or 0, physician.id or 0) is None:
                session.add(
                    Registration(
                        series_id=series.id or 0, physician_id=physician.id or 0, created_at=now
                    )
                )
            row.status, row.registered_at = REGISTERED, now
            promoted.append(row)
            await _queue_promotion(session, mail, series, row, physician, now=now)
        await session.flush()


async def _queue_promotion(
    session: AsyncSession,
    mail: MailSettings,
    series: Series,
    row: SelfRegistration,
    physician: Physician,
    *,
    now: datetime,
) -> None:
    context = {
        "series_title": series.title,
        "series_url": series_url(mail, series),
        "page_url": f"{mail.base_url}/me",
        "join_url": series.join_url,
        "next_text": await _next_text(
            session, series.id or 0, physician.timezone, physician.language, now=now
        ),
    }
    # Written to the physician as they are now (not as the request typed their name).
    await queue_message(
        session,
        functools.partial(message_for, physician, mail, "waitlist_promoted", context, now=now),
        recipient=physician.email,
        physician_id=physician.id,
        key=f"waitlist-promoted:{row.id}:{physician.id}:{now:%Y%m%dT%H%M%S}",
        kind="waitlist_promoted",
        now=now,
    )


# Confirmation -------------------------------------------------------------------------------


async def claim(session: AsyncSession, code: str, *, now: datetime) -> SelfRegistration | None:
    """Use a link's code (once): the pending, unexpired request it opens, its code cleared;
    ``None`` for a code that opens nothing (unknown, used, or expired)."""
    query = (
        update(SelfRegistration)
        .where(
            col(SelfRegistration.code_hash) == hash_token(code),
            col(SelfRegistration.status) == PENDING,
            col(SelfRegistration.expires_at) > now,
        )
        .values(code_hash=None, confirmed_at=now)
        .returning(col(SelfRegistration.id))
    )
    claimed = (await session.exec(query)).first()
    if claimed is None:
        return None
    return await session.get(SelfRegistration, claimed[0], populate_existing=True)


async def pending_for_code(
    session: AsyncSession, code: str, *, now: datetime
) -> tuple[SelfRegistration, Series] | None:
    """The request a link would confirm, without using it (the page before the button)."""
    query = (
        select(SelfRegistration, Series)
        .join(Series, col(Series.id) == col(SelfRegistration.series_id))
        .where(
            SelfRegistration.code_hash == hash_token(code),
            SelfRegistration.status == PENDING,
            SelfRegistration.expires_at > now,
        )
    )
    found = (await session.exec(query)).first()
    return (found[0], found[1]) if found else None


async def unheld_identifiers(session: AsyncSession, row: SelfRegistration) -> dict[str, str]:
    """The NPI and RPPS numbers of a request that no physician holds yet.

    A number someone else holds is left off the new physician, without a word to whoever
    confirms: the public form and its link are open to anyone with a mailbox, so saying "this
    NPI is taken" would tell them who is registered here (one NPI per request). The request
    keeps the number as given, and the organiser's list of requests shows it was not kept, for a
    person to decide whose it is (an NPI identifies one person, and the board export reports
    completions under it)."""
    numbers: dict[str, str] = {}
    for field in physicians.UNIQUE_IDENTIFIERS:
        number = getattr(row, field)
        if number is None:
            continue
        holder = await physicians.identifier_holder(session, field, number)
        if holder is None:
            numbers[field] = number
        else:
            log.info("self-registration %s: its %s is held by physician %s", row.id, field, holder)
    return numbers


async def confirm(
    session: AsyncSession, mail: MailSettings, code: str, *, now: datetime
) -> Confirmation | None:
    """Use a confirmation link: the physician is found by address (any case) or created from
    the request, then registered if a seat is free, else put on the waitlist. ``None`` for a
    link that opens nothing. A new physician gets only the NPI and RPPS numbers nobody holds
    (:func:`unheld_identifiers`). May raise ``EmailTakenError`` (or ``IdentifierTakenError``)
    if another transaction created the same physician (or took the number) meanwhile: the
    transaction is rolled back, and doing it again finds them."""
    row = await claim(session, code, now=now)
    if row is None:
        return None
    series = await lock_series(session, row.series_id)
    physician = await physicians.physician_by_email(session, row.email)
    created, token = physician is None, None
    if physician is None:
        numbers = await unheld_identifiers(session, row)
        physician, token = await physicians.create_physician(
            session,
            PhysicianCreate(
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                timezone=row.timezone,
                language=row.language,
                npi=numbers.get("npi"),
                rpps=numbers.get("rpps"),
                consent_board_reporting=row.consent_board_reporting,
            ),
            now=now,
        )
    pid = physician.id or 0
    row.physician_id = pid
    if await _registration(session, series.id or 0, pid) is not None:
        row.status, row.registered_at = REGISTERED, now
        await session.flush()
        return Confirmation(series, physician, "already_registered", created, token=token)
    waiting = (
        await session.exec(
            _waitlist(series.id or 0).where(
                SelfRegistration.physician_id == pid, SelfRegistration.id != row.id
            )
        )
    ).first()
    if waiting is not None:
        row.status = CANCELLED
        await session.flush()
        place = await position(session, waiting)
        return Confirmation(series, physician, "already_waitlisted", created, place, token)
    await fill_seats(session, mail, series, now=now)  # those already in line go first
    if await _free_seats(session, series) != 0:
        session.add(Registration(series_id=series.id or 0, physician_id=pid, created_at=now))
        row.status, row.registered_at = REGISTERED, now
        await session.flush()
        return Confirmation(series, physician, "registered", created, token=token)
    row.confirmed_at = await _end_of_line(session, series.id or 0, now)  # after those before
    row.status = WAITLISTED
    await session.flush()
    return Confirmation(
        series, physician, "waitlisted", created, await position(session, row), token
    )


# The organiser's registrations --------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """What an organiser's registration did: ``registered`` (``registration`` is new),
    ``already_registered``, ``waitlisted`` or ``already_waitlisted`` (``position``: the place
    in line, 1 next); ``promoted``: those in line who got a seat first (each told by email)."""

    outcome: Outcome
    physician_id: int
    registration: Registration | None
    position: int | None = None
    promoted: int = 0


async def _end_of_line(session: AsyncSession, series_id: int, now: datetime) -> datetime:
    """When a place taken now at the end of the line is confirmed: ``now``, or the last one's
    time if that is later (``now`` was read before the series lock was granted: a request that
    waited for it must not pass the one that held it; equal times go by id, in lock order)."""
    last = (
        await session.exec(
            select(func.max(SelfRegistration.confirmed_at)).where(
                SelfRegistration.series_id == series_id, SelfRegistration.status == WAITLISTED
            )
        )
    ).one()
    return max(now, last) if last is not None else now


def _line_request(series_id: int, physician: Physician, *, now: datetime) -> SelfRegistration:
    """A place in line made by the organiser: a confirmed request (no link, no email)."""
    return SelfRegistration(
        series_id=series_id,
        email=physician.email,
        first_name=physician.first_name,
        last_name=physician.last_name,
        language=physician.language,
        timezone=physician.timezone,
        npi=physician.npi,
        rpps=physician.rpps,
        consent_board_reporting=physician.consent_board_reporting,
        status=WAITLISTED,
        code_hash=None,
        expires_at=now,
        physician_id=physician.id,
        created_at=now,
        confirmed_at=now,
    )


async def _in_line(
    session: AsyncSession, series_id: int, physician_ids: list[int]
) -> dict[int, SelfRegistration]:
    """The places in line these physicians hold on the series."""
    found: dict[int, SelfRegistration] = {}
    for start in range(0, len(physician_ids), 1000):
        query = _waitlist(series_id).where(
            col(SelfRegistration.physician_id).in_(physician_ids[start : start + 1000])
        )
        for row in (await session.exec(query)).all():
            found.setdefault(row.physician_id or 0, row)
    return found


async def place(
    session: AsyncSession,
    mail: MailSettings,
    series_id: int,
    physician: Physician,
    *,
    now: datetime,
    over_capacity: bool = False,
) -> Placed:
    """An organiser registers a physician, bound by the capacity as self-registration is: a
    seat if one is free (those already in line first), else the end of the waitlist.
    ``over_capacity`` gives a seat past the capacity (and takes them out of line). Seats are
    counted under :func:`lock_series`; the caller commits."""
    series = await lock_series(session, series_id)
    pid = physician.id or 0
    existing = await _registration(session, series_id, pid)
    if existing is not None:
        return Placed("already_registered", pid, existing)
    promoted = await fill_seats(session, mail, series, now=now)  # those in line go first
    seated = await _registration(session, series_id, pid)
    if seated is not None:  # they were first in line
        return Placed("registered", pid, seated, promoted=len(promoted))
    waiting = (await _in_line(session, series_id, [pid])).get(pid)
    if not over_capacity and await _free_seats(session, series) == 0:
        if waiting is not None:
            place = await position(session, waiting)
            return Placed("already_waitlisted", pid, None, place, len(promoted))
        row = _line_request(series_id, physician, now=await _end_of_line(session, series_id, now))
        session.add(row)
        await session.flush()
        return Placed("waitlisted", pid, None, await position(session, row), len(promoted))
    registration = Registration(series_id=series_id, physician_id=pid, created_at=now)
    session.add(registration)
    if waiting is not None:
        waiting.status, waiting.registered_at = REGISTERED, now
    await session.flush()
    return Placed("registered", pid, registration, promoted=len(promoted))


@dataclass(frozen=True)
class Seated:
    """What registering a list did to seats: those seated, those put in line (both in the
    list's order), and those already in line."""

    seated: list[int]
    lined: list[int]
    already_lined: list[int]
    promoted: int


async def place_many(
    session: AsyncSession,
    mail: MailSettings,
    series_id: int,
    physicians: list[Physician],
    *,
    now: datetime,
    over_capacity: bool = False,
) -> Seated:
    """:func:`place` for a list of physicians not registered yet, in the list's order: the
    free seats go to the first of them, the others join the end of the line in that order.
    The caller holds :func:`lock_series` (taken here again: harmless) and commits."""
    series = await lock_series(session, series_id)
    promoted = await fill_seats(session, mail, series, now=now)
    ids = [p.id or 0 for p in physicians]
    there = set(
        (
            await session.exec(
                select(Registration.physician_id).where(
                    Registration.series_id == series_id, col(Registration.physician_id).in_(ids)
                )
            )
        ).all()
    )  # promoted from the line just now
    waiting = await _in_line(session, series_id, ids)
    if over_capacity:
        seated = [pid for pid in ids if pid not in there]
        for pid in seated:
            if pid in waiting:
                waiting[pid].status, waiting[pid].registered_at = REGISTERED, now
        lined: list[Physician] = []
        already: list[int] = []
    else:
        free = await _free_seats(session, series)
        fresh = [p for p in physicians if p.id not in there and p.id not in waiting]
        cut = len(fresh) if free is None else min(free, len(fresh))
        seated = [p.id or 0 for p in fresh[:cut]]
        lined = fresh[cut:]
        already = [pid for pid in ids if pid in waiting and pid not in there]
    session.add_all(
        [Registration(series_id=series_id, physician_id=pid, created_at=now) for pid in seated]
    )
    at = await _end_of_line(session, series_id, now) if lined else now
    for physician in lined:  # one at a time: the ids keep the list's order in line
        session.add(_line_request(series_id, physician, now=at))
        await session.flush()
    await session.flush()
    return Seated(seated, [p.id or 0 for p in lined], already, len(promoted))


async def leave_waitlist(session: AsyncSession, series_id: int, physician_id: int) -> int:
    """The physician leaves a series' waitlist; returns how many requests that cancelled."""
    result = await session.exec(
        update(SelfRegistration)
        .where(
            col(SelfRegistration.series_id) == series_id,
            col(SelfRegistration.physician_id) == physician_id,
            col(SelfRegistration.status) == WAITLISTED,
        )
        .values(status=CANCELLED)
    )
    return int(result.rowcount or 0)


# Reading ------------------------------------------------------------------------------------


async def waitlisted_for(
    session: AsyncSession, physician_id: int
) -> list[tuple[SelfRegistration, Series, int]]:
    """A physician's places in line: (request, series, position), by series title."""
    query = (
        select(SelfRegistration, Series)
        .join(Series, col(Series.id) == col(SelfRegistration.series_id))
        .where(SelfRegistration.physician_id == physician_id, SelfRegistration.status == WAITLISTED)
        .order_by(col(Series.title), col(Series.id))
    )
    return [
        (row, series, await position(session, row))
        for row, series in (await session.exec(query)).all()
    ]


@dataclass(frozen=True)
class Counts:
    registered: int
    waitlisted: int
    pending: int


async def counts(session: AsyncSession, series_id: int, *, now: datetime) -> Counts:
    """How many are registered (however they were), waiting, and yet to confirm (links alive)."""
    by_status = select(SelfRegistration.status, func.count()).where(
        SelfRegistration.series_id == series_id,
        or_(col(SelfRegistration.status) != PENDING, col(SelfRegistration.expires_at) > now),
    )
    found = dict((await session.exec(by_status.group_by(SelfRegistration.status))).all())
    return Counts(
        registered=await seats_taken(session, series_id),
        waitlisted=int(found.get(WAITLISTED, 0)),
        pending=int(found.get(PENDING, 0)),
    )


BY_ID: Order = ((col(SelfRegistration.id), False),)


async def requests_page(
    session: AsyncSession,
    series_id: int,
    request: PageRequest,
    *,
    status: str | None = None,
    now: datetime,
) -> Page[tuple[SelfRegistration, int | None]]:
    """A series' requests with their place in line: waitlisted ones in line order, the others
    (or all of them, without ``status``) in the order they were made. ``pending`` lists only
    those whose link still works."""
    if await session.get(Series, series_id) is None:
        raise NotFoundError("series", series_id)
    query = select(SelfRegistration).where(SelfRegistration.series_id == series_id)
    if status is not None:
        query = query.where(SelfRegistration.status == status)
    if status == PENDING:
        query = query.where(SelfRegistration.expires_at > now)
    if status == WAITLISTED:
        page = await keyset_page(
            session, query, WAITLIST_ORDER, lambda r: (r.confirmed_at, r.id), request
        )
        first = await position(session, page.rows[0]) if page.rows else 1
        return Page(
            [(row, first + i) for i, row in enumerate(page.rows)],
            page.next_key,
            page.previous_key,
        )
    page = await keyset_page(session, query, BY_ID, lambda r: (r.id,), request)
    rows = [
        (row, await position(session, row) if row.status == WAITLISTED else None)
        for row in page.rows
    ]
    return Page(rows, page.next_key, page.previous_key)


async def requests_of(
    session: AsyncSession, series_id: int, physician_ids: list[int]
) -> list[SelfRegistration]:
    """The latest request of each of these physicians to this series (none for a physician an
    organiser registered)."""
    if not physician_ids:
        return []
    found = await session.exec(
        select(SelfRegistration)
        .where(
            SelfRegistration.series_id == series_id,
            col(SelfRegistration.physician_id).in_(physician_ids),
        )
        .order_by(col(SelfRegistration.id))
    )
    return list({row.physician_id: row for row in found.all()}.values())


async def registered_page(
    session: AsyncSession, series_id: int, request: PageRequest
) -> Page[tuple[Registration, Physician]]:
    """Who holds a seat, in the order they got it (the organiser's page)."""
    query = (
        select(Registration, Physician)
        .join(Physician, col(Physician.id) == col(Registration.physician_id))
        .where(Registration.series_id == series_id)
    )
    order: Order = ((col(Registration.id), False),)
    return await keyset_page(session, query, order, lambda r: (r[0].id,), request)
