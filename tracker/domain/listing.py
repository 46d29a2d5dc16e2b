"""The lists organisers read, one bounded page at a time (SPEC section 5).

Every list is read by *keyset*: rows in a stable order that ends with a unique column (an id),
a page being the ``limit`` rows strictly after (or before) the key of the row a client last saw.
A page costs one indexed range read of ``limit + 1`` rows whatever the list's length, and
rows added or removed meanwhile never shift a page (as ``OFFSET`` would). A search that few
rows match reads on until it has ``limit + 1`` of them or the list ends (a scan, bounded in
memory: rows are filtered in the database).

Searches fold case and accents on both engines alike (:mod:`tracker.domain.folding`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar
from typing import cast as cast_type

from sqlalchemy import String, and_, cast, func, or_
from sqlalchemy.orm import QueryableAttribute, defer
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.models import OutboxMessage
from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from tracker.domain import awards, credit_rules, revocations
from tracker.domain.folding import fold, folded, folded_regex
from tracker.domain.models import AttendanceEvent, Award, Claim, Physician, Registration
from tracker.domain.physicians import email_key

T = TypeVar("T")
Key = tuple[Any, ...]
#: The longest search text accepted, and the longest text of a cursor's key (names hold 100).
MAX_SEARCH = 200
#: Words of a search beyond this many are ignored (each word is one more condition per row).
MAX_WORDS = 6


def _pattern(word: str) -> str:
    """``%word%`` for LIKE, its wildcards escaped (a search for ``50%`` is literal)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _contains(dialect: str, expression: Any, word: str) -> ColumnElement[bool]:
    """``word`` (folded) is part of ``expression`` once folded (see :mod:`.folding`)."""
    if dialect == "postgresql":
        return cast_type(ColumnElement[bool], expression.op("~")(folded_regex(word)))
    return folded(expression).like(_pattern(word), escape="\\")


def search_words(text: str | None) -> list[str]:
    """The folded words of a search (at most :data:`MAX_WORDS`)."""
    return (fold(text) or "").split()[:MAX_WORDS]


def _physician_text() -> Any:
    """What a physician search reads: names, email and identifiers, one space apart (a word of
    a search holds no space, so it never spans two of them): one text per row."""
    parts = [
        col(Physician.first_name),
        col(Physician.last_name),
        col(Physician.email),
        func.coalesce(col(Physician.npi), ""),
        func.coalesce(col(Physician.rpps), ""),
        cast(col(Physician.board_ids), String()),
    ]
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return text


def physician_matches(dialect: str, text: str | None) -> list[ColumnElement[bool]]:
    """One condition per word of ``text``: the word is part of the physician's first or last
    name, email, NPI, RPPS or a board id (case and accents folded)."""
    words = search_words(text)
    if not words:
        return []
    haystack = _physician_text()
    return [_contains(dialect, haystack, word) for word in words]


@dataclass(frozen=True)
class PageRequest:
    """At most ``limit`` rows strictly after ``key`` in the list's order (before it when
    ``backwards``); no key: the first page."""

    limit: int
    key: Key | None = None
    backwards: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page and the keys to give for the next and previous ones (``None``: no such page)."""

    rows: list[T]
    next_key: Key | None
    previous_key: Key | None


#: A list's order: each column and whether it is descending; the last one is unique.
Order = Sequence[tuple[Any, bool]]


def _beyond(order: Order, key: Key, *, backwards: bool) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in ``order`` (before it, ``backwards``), written as
    ``a > x OR (a = x AND (b > y OR ...))`` so that both engines read it alike."""
    clause: ColumnElement[bool] | None = None
    for (column, descending), value in reversed(list(zip(order, key, strict=True))):
        later = column < value if descending != backwards else column > value
        clause = later if clause is None else or_(later, and_(column == value, clause))
    assert clause is not None
    return clause


async def keyset_page(
    session: AsyncSession,
    query: Any,  # a select of one entity or of several
    order: Order,
    key_of: Callable[[Any], Key],
    request: PageRequest,
) -> Page[Any]:
    """One page of ``query`` in ``order``: reads ``limit + 1`` rows to know whether more follow."""
    backwards = request.backwards and request.key is not None
    if request.key is not None:
        query = query.where(_beyond(order, request.key, backwards=backwards))
    query = query.order_by(
        *(
            (column.asc() if descending == backwards else column.desc())
            for column, descending in order
        )
    ).limit(request.limit + 1)
    rows = list((await session.exec(query)).all())
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    if backwards:
        rows.reverse()
        return Page(
            rows,
            next_key=key_of(rows[-1]) if rows else None,
            previous_key=key_of(rows[0]) if more and rows else None,
        )
    return Page(
        rows,
        next_key=key_of(rows[-1]) if more else None,
        previous_key=key_of(rows[0]) if request.key is not None and rows else None,
    )


BY_ID_PHYSICIAN: Order = ((col(Physician.id), False),)


async def physicians_page(
    session: AsyncSession,
    request: PageRequest,
    *,
    search: str | None = None,
    email: str | None = None,
) -> Page[Physician]:
    """Physicians in id order; ``email``: that address exactly (any case); ``search``: every
    word in a name, the email or an identifier (see :func:`physician_matches`)."""
    query = select(Physician)
    if email:
        query = query.where(Physician.email == email_key(email))
    query = query.where(*physician_matches(_dialect(session), search))
    return await keyset_page(session, query, BY_ID_PHYSICIAN, lambda p: (p.id,), request)


async def series_page(session: AsyncSession, request: PageRequest) -> Page[Series]:
    """Series in id order."""
    order: Order = ((col(Series.id), False),)
    return await keyset_page(session, select(Series), order, lambda s: (s.id,), request)


async def occurrences_page(
    session: AsyncSession,
    series_id: int,
    request: PageRequest,
    *,
    start_from: datetime | None = None,
    until: datetime | None = None,
) -> Page[Occurrence]:
    """A series' occurrences overlapping [start_from, until), in start order (cancelled ones
    included); an unknown series: :class:`NotFoundError`."""
    if await session.get(Series, series_id) is None:
        raise NotFoundError("series", series_id)
    query = select(Occurrence).where(Occurrence.series_id == series_id)
    if start_from is not None:
        query = query.where(Occurrence.end > start_from)
    if until is not None:
        query = query.where(Occurrence.start < until)
    order: Order = ((col(Occurrence.start), False), (col(Occurrence.id), False))
    return await keyset_page(session, query, order, lambda o: (o.start, o.id), request)


async def registrations_page(
    session: AsyncSession, series_id: int, request: PageRequest
) -> Page[Registration]:
    """A series' registrations in the order they were made."""
    if await session.get(Series, series_id) is None:
        raise NotFoundError("series", series_id)
    query = select(Registration).where(Registration.series_id == series_id)
    order: Order = ((col(Registration.id), False),)
    return await keyset_page(session, query, order, lambda r: (r.id,), request)


ATTENDANCE_ORDER: Order = (
    (col(Physician.last_name), False),
    (col(Physician.first_name), False),
    (col(Physician.id), False),
)


class Attendee(NamedTuple):
    """One attendee of a session: their award, who they are, and when the organiser revoked
    the session's certificate (then the award's credits are empty: they count nowhere)."""

    award: Award
    physician: Physician
    revoked_at: datetime | None = None


async def attendance_page(
    session: AsyncSession,
    occurrence_id: int,
    request: PageRequest,
    *,
    now: datetime | None = None,
    search: str | None = None,
    physician_id: int | None = None,
) -> Page[Attendee]:
    """One page of the attendees of an occurrence by last name, first name and id, each with
    their award: final ones as stored; with ``now``, provisional ones as of ``now``, from the
    facts of this page's attendees only. ``search``: as for physicians; ``physician_id``: one.
    A revoked session is marked, without credit (:mod:`tracker.domain.revocations`)."""
    occurrence = await session.get(Occurrence, occurrence_id)
    if occurrence is None:
        raise NotFoundError("occurrence", occurrence_id)
    query = (
        select(Award, Physician)
        .join(Physician, col(Physician.id) == col(Award.physician_id))
        .where(Award.occurrence_id == occurrence_id, *physician_matches(_dialect(session), search))
    )
    if physician_id is not None:
        query = query.where(Award.physician_id == physician_id)
    page: Page[tuple[Award, Physician]] = await keyset_page(
        session,
        query,
        ATTENDANCE_ORDER,
        lambda row: (row[1].last_name, row[1].first_name, row[1].id),
        request,
    )
    page = await _as_claimed(session, occurrence_id, page)
    rows = page.rows
    provisional = [award.physician_id for award, _ in rows if not award.final]
    if now is not None and provisional:
        # The projection's own arithmetic (tracker.domain.awards), on this page's facts only.
        rules = await credit_rules.session_rules(session, occurrence)
        facts = await awards._facts(session, occurrence_id, provisional)
        rows = [
            (
                award
                if award.final
                else awards._as_of(
                    award,
                    *awards._figures(facts.get(award.physician_id, []), occurrence, rules, now=now),
                    now,
                ),
                physician,
            )
            for award, physician in rows
        ]
    revoked = await revocations.revoked_attendees(
        session, occurrence_id, [award.physician_id for award, _ in rows]
    )
    attendees = [
        Attendee(awards.with_credits(award, {}), physician, revoked[award.physician_id])
        if award.physician_id in revoked
        else Attendee(award, physician)
        for award, physician in rows
    ]
    return Page(attendees, page.next_key, page.previous_key)


async def _as_claimed(
    session: AsyncSession, occurrence_id: int, page: Page[tuple[Award, Physician]]
) -> Page[tuple[Award, Physician]]:
    """The page with each final award a physician has claimed (SPEC 7) showing the credit the
    claim attests (its minutes capped at the computed ones: :func:`awards.claimed_figures`), as the physician's own page, the credits API and the certificate do, not
    the computed one (awards not claimed yet stay as computed: what may be claimed)."""
    final = [award.physician_id for award, _ in page.rows if award.final]
    if not final:
        return page
    claims = {
        claim.physician_id: claim
        for claim in (
            await session.exec(
                select(Claim).where(
                    Claim.occurrence_id == occurrence_id,
                    col(Claim.physician_id).in_(final),
                    col(Claim.claimed_at).is_not(None),
                )
            )
        ).all()
    }
    if not claims:
        return page
    occurrence = await session.get_one(Occurrence, occurrence_id)
    rules = await credit_rules.session_rules(session, occurrence)
    rows = []
    for award, physician in page.rows:
        claim = claims.get(award.physician_id) if award.final else None
        if claim is not None:
            credits = awards.claimed_figures(claim, award, occurrence, rules)[1]
            award = awards.with_credits(award, credits)
        rows.append((award, physician))
    return Page(rows, page.next_key, page.previous_key)


def _unmatched() -> ColumnElement[bool]:
    return or_(
        col(AttendanceEvent.occurrence_id).is_(None),
        and_(col(AttendanceEvent.physician_id).is_(None), col(AttendanceEvent.kind) != "ended"),
    )


async def unmatched_page(
    session: AsyncSession, request: PageRequest, *, search: str | None = None
) -> Page[AttendanceEvent]:
    """Events waiting for a match, in the order they arrived; ``search``: every word in the
    event's email address."""
    query = select(AttendanceEvent).where(
        _unmatched(),
        *(
            _contains(_dialect(session), col(AttendanceEvent.email), word)
            for word in search_words(search)
        ),
    )
    order: Order = ((col(AttendanceEvent.id), False),)
    return await keyset_page(session, query, order, lambda e: (e.id,), request)


async def outbox_page(
    session: AsyncSession,
    request: PageRequest,
    *,
    status: str | None = None,
    kind: str | None = None,
) -> Page[OutboxMessage]:
    """Outbox messages, newest first, without their bytes (a certificate's PDF is not read)."""
    query = select(OutboxMessage).options(
        defer(cast_type(QueryableAttribute[Any], OutboxMessage.raw))
    )
    if status:
        query = query.where(OutboxMessage.status == status)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    order: Order = ((col(OutboxMessage.id), True),)
    return await keyset_page(session, query, order, lambda m: (m.id,), request)


async def outbox_kinds(session: AsyncSession) -> list[str]:
    """The kinds of message the outbox holds (a handful), for a filter."""
    query = select(OutboxMessage.kind).distinct()
    return sorted((await session.exec(query)).all())


async def outbox_counts(session: AsyncSession, *, kind: str | None = None) -> dict[str, int]:
    """``{status: messages}`` of the outbox (of ``kind``), in one grouped query."""
    query = select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return {str(status): int(n) for status, n in (await session.exec(query)).all()}
