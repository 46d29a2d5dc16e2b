"""Physicians: records, personal tokens (hash only), lookups by token and by email, and the
bulk import of many at once (validated in Python, read and written a chunk per statement)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import InvalidAddressError, normalise_address
from schedules.errors import InvalidInputError, NotFoundError
from tracker.domain.models import Physician, Registration
from tracker.domain.schemas import PhysicianCreate, PhysicianUpdate
from tracker.domain.tokens import FEED_PREFIX, hash_token, new_token
from tracker.domain.validation import validation_messages
from tracker.errors import EmailTakenError, IdentifierRowError, IdentifierTakenError, RowError

NULLABLE = frozenset({"npi", "rpps", "birth_month", "birth_day", "license_state", "license_number"})
#: The identifiers that name one person, so one physician each (a unique index holds it too).
UNIQUE_IDENTIFIERS = ("npi", "rpps")


def email_key(text: str) -> str:
    """How an address is stored and looked up: normalised as on input when it is one valid
    address (so ``Chloé.Simon@EXAMPLE.org`` finds ``chloé.simon@example.org``), else simply
    trimmed and lower-cased (a search for something odd then finds nothing)."""
    try:
        return normalise_address(text, anywhere=True)
    except InvalidAddressError:
        return text.strip().lower()


async def _email_taken(session: AsyncSession, email: str, *, other_than: int | None = None) -> bool:
    query = select(Physician.id).where(Physician.email == email_key(email))
    if other_than is not None:
        query = query.where(Physician.id != other_than)
    return (await session.exec(query)).first() is not None


async def identifier_holder(
    session: AsyncSession, field: str, value: str, *, other_than: int | None = None
) -> int | None:
    """The id of the physician holding this NPI or RPPS number (``field``), other than
    ``other_than``; ``None`` if nobody does."""
    query = select(Physician.id).where(_COLUMNS[field] == value)
    if other_than is not None:
        query = query.where(Physician.id != other_than)
    return (await session.exec(query.limit(1))).first()


async def check_identifiers(
    session: AsyncSession, values: dict[str, Any], *, other_than: int | None = None
) -> None:
    """Raise :class:`IdentifierTakenError` for the first NPI or RPPS number of ``values`` that
    another physician holds."""
    for field in UNIQUE_IDENTIFIERS:
        value = values.get(field)
        if value is None:
            continue
        holder = await identifier_holder(session, field, value, other_than=other_than)
        if holder is not None:
            raise IdentifierTakenError(field, holder)


async def _conflict_after_rollback(
    session: AsyncSession, email: str | None, values: dict[str, Any], *, other_than: int | None
) -> InvalidInputError | None:
    """What a unique index refused, read again once the failed transaction is rolled back:
    another transaction committed the same address or identifier between our check and our
    write (its row is visible now). ``None`` if nothing is taken (a constraint of another kind)."""
    await session.rollback()
    if email is not None and await _email_taken(session, email, other_than=other_than):
        return EmailTakenError(email)
    try:
        await check_identifiers(session, values, other_than=other_than)
    except IdentifierTakenError as exc:
        return exc
    return None


async def create_physician(
    session: AsyncSession, data: PhysicianCreate, *, now: datetime
) -> tuple[Physician, str]:
    """Store a physician; returns it with the personal token, which is never shown again.
    Raises :class:`EmailTakenError` or :class:`IdentifierTakenError` for an address, NPI or
    RPPS number another physician holds, even one committed concurrently (the unique index
    refuses it; the session is then rolled back)."""
    email = email_key(data.email)
    if await _email_taken(session, email):
        raise EmailTakenError(email)
    identifiers = {field: getattr(data, field) for field in UNIQUE_IDENTIFIERS}
    await check_identifiers(session, identifiers)
    token = new_token("phy_")
    physician = Physician(
        **data.model_dump(exclude={"email"}),
        email=email,
        token_hash=hash_token(token),
        created_at=now,
        updated_at=now,
    )
    session.add(physician)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request took the email or an identifier first
        conflict = await _conflict_after_rollback(session, email, identifiers, other_than=None)
        if conflict is None:
            raise
        raise conflict from None
    return physician, token


async def update_physician(
    session: AsyncSession, physician_id: int, data: PhysicianUpdate, *, now: datetime
) -> Physician:
    physician = await get_physician(session, physician_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise InvalidInputError(field, "cannot be null")
    if "email" in changes:
        changes["email"] = email_key(changes["email"])
        if await _email_taken(session, changes["email"], other_than=physician_id):
            raise EmailTakenError(changes["email"])
    identifiers = {field: changes[field] for field in UNIQUE_IDENTIFIERS if field in changes}
    await check_identifiers(session, identifiers, other_than=physician_id)
    for field, value in changes.items():
        setattr(physician, field, value)
    physician.updated_at = now
    try:
        await session.flush()
    except IntegrityError:  # a concurrent request took the email or an identifier first
        conflict = await _conflict_after_rollback(
            session, changes.get("email"), identifiers, other_than=physician_id
        )
        if conflict is None:
            raise
        raise conflict from None
    return physician


async def rotate_token(
    session: AsyncSession, physician_id: int, *, now: datetime
) -> tuple[Physician, str]:
    """Replace the token and the feed key: the old ones (and every URL holding them) stop
    working at once."""
    physician = await get_physician(session, physician_id)
    token = new_token("phy_")
    physician.token_hash = hash_token(token)
    physician.feed_secret = new_token(FEED_PREFIX)
    physician.token_generation += 1
    physician.updated_at = now
    await session.flush()
    return physician, token


async def get_physician(session: AsyncSession, physician_id: int) -> Physician:
    physician = await session.get(Physician, physician_id)
    if physician is None:
        raise NotFoundError("physician", physician_id)
    return physician


async def physician_for_token(session: AsyncSession, token: str) -> Physician | None:
    query = select(Physician).where(Physician.token_hash == hash_token(token))
    return (await session.exec(query)).first()


class FeedOwner(NamedTuple):
    """What a personal feed shows of its physician, and whose registrations it lists."""

    id: int
    language: str
    first_name: str
    last_name: str


_FEED_OWNER = (col(Physician.id), col(Physician.language), col(Physician.first_name))
_FEED_OWNER_BY = {
    by: sa_select(*_FEED_OWNER, col(Physician.last_name)).where(column == bindparam("key"))
    for by, column in (("feed", col(Physician.feed_secret)), ("token", col(Physician.token_hash)))
}
_REGISTERED = sa_select(col(Registration.series_id)).where(
    col(Registration.physician_id) == bindparam("physician")
)


def feed_owner(connection: Connection, key: str) -> tuple[FeedOwner, list[int]] | None:
    """The owner of a personal feed URL's key (the read-only feed key ``cal_…`` or, for the
    feed URLs handed out before it existed, the personal token itself) and the series they
    are registered to; synchronous, for a feed's one trip to the database."""
    if key.startswith(FEED_PREFIX):
        row = connection.execute(_FEED_OWNER_BY["feed"], {"key": key}).first()
    else:
        row = connection.execute(_FEED_OWNER_BY["token"], {"key": hash_token(key)}).first()
    if row is None:
        return None
    owner = FeedOwner(*row)  # type: ignore[arg-type]  # a stored row has its id
    series = connection.execute(_REGISTERED, {"physician": owner.id}).scalars()
    return owner, sorted(set(series))


async def ensure_feed_secret(session: AsyncSession, physician_id: int) -> str:
    """The physician's feed key, given one first if their row has none (a row written around
    the ORM); flushes."""
    physician = await get_physician(session, physician_id)
    if physician.feed_secret is None:
        physician.feed_secret = new_token(FEED_PREFIX)
        await session.flush()
    return physician.feed_secret


async def physician_by_email(session: AsyncSession, email: str) -> Physician | None:
    return (
        await session.exec(select(Physician).where(Physician.email == email_key(email)))
    ).first()


# --- bulk import ---------------------------------------------------------------------------

Outcome = Literal["created", "updated", "unchanged"]
#: ``lost``: the row's physician was new to us, but another transaction created it first
RowOutcome = Outcome | Literal["lost"]
#: What an import compares and writes: every field a physician is created with.
IMPORT_FIELDS = tuple(PhysicianCreate.model_fields)
_TABLE = Physician.__table__  # type: ignore[attr-defined]  # SQLModel tables are Tables
_COLUMNS = _TABLE.c


@dataclass(frozen=True)
class ImportRow:
    """One valid row: its line, the physician's email key, every field as the row creates the
    physician (defaults where the row is silent), and the fields the row gives (an update
    changes only those)."""

    line: int
    key: str
    values: dict[str, Any]
    given: frozenset[str]


@dataclass(frozen=True)
class Newcomer:
    """A physician just given a personal token, with what their welcome email needs (the token
    is known only now: it is stored as a hash)."""

    physician_id: int
    generation: int
    email: str
    first_name: str
    last_name: str
    language: str
    token: str
    #: The read-only key of their calendar feed: the feed link a calendar service is given.
    feed_key: str

    @classmethod
    def of(cls, physician: Physician, token: str) -> Newcomer:
        assert physician.feed_secret is not None  # every row the ORM writes is given one
        return cls(
            physician.id or 0,
            physician.token_generation,
            physician.email,
            physician.first_name,
            physician.last_name,
            physician.language,
            token,
            physician.feed_secret,
        )


@dataclass
class ImportResult:
    """What one batch of rows did, in line order; ``lost`` holds the keys another transaction
    created between the read and the insert (the batch must be rolled back and done again);
    ``created`` the physicians this batch inserted, in file order."""

    outcomes: list[tuple[int, RowOutcome]] = dataclasses.field(default_factory=list)
    lost: set[str] = dataclasses.field(default_factory=set)
    created: list[Newcomer] = dataclasses.field(default_factory=list)
    #: rows left out: they give an NPI or RPPS number another physician holds
    refused: list[RowError] = dataclasses.field(default_factory=list)
    #: ``{(field, number): (line, email)}`` of the NPI and RPPS numbers the kept rows give
    claimed: dict[tuple[str, str], tuple[int, str]] = dataclasses.field(default_factory=dict)

    @property
    def tokens(self) -> list[tuple[str, str]]:
        """``(email, token)`` of the physicians created, in file order."""
        return [(newcomer.email, newcomer.token) for newcomer in self.created]


def import_key(email: str) -> str:
    """:func:`email_key` of an address :class:`PhysicianCreate` has already normalised.

    An ASCII address comes out of email-validator as itself lower-cased, and a second pass
    leaves it alone, so only other addresses take the second pass (about 0.2 ms each, the
    largest cost of an import after the first pass)."""
    return email if email.isascii() else email_key(email)


def import_row(line: int, values: dict[str, Any]) -> ImportRow:
    """Validate a row's values as a new physician's; a :class:`RowError` names the first problem
    (``line 4: timezone: unknown IANA timezone 'Mars/Olympus'``)."""
    try:
        data = PhysicianCreate.model_validate(values)
    except ValidationError as exc:
        first = validation_messages(exc)[0]
        kind = exc.errors()[0]["type"]
        raise RowError(
            line, f"{first['field']}: {first['message']}", first["field"], kind
        ) from None
    key = import_key(data.email)
    full = {name: getattr(data, name) for name in IMPORT_FIELDS} | {"email": key}
    # the email found the physician, so it never differs: only the other given fields can
    return ImportRow(line, key, full, frozenset(values) - {"email"})


def given_identifiers(row: ImportRow) -> list[tuple[str, str]]:
    """``(field, number)`` of each NPI or RPPS number the row gives."""
    return [
        (field, row.values[field])
        for field in UNIQUE_IDENTIFIERS
        if field in row.given and row.values[field] is not None
    ]


async def identifier_holders(
    session: AsyncSession, rows: Sequence[ImportRow]
) -> dict[tuple[str, str], tuple[int, str]]:
    """``{(field, number): (id, email)}`` of the physicians holding the NPI and RPPS numbers
    that ``rows`` give, in one query per field."""
    holders: dict[tuple[str, str], tuple[int, str]] = {}
    for field in UNIQUE_IDENTIFIERS:
        numbers = {number for row in rows for f, number in given_identifiers(row) if f == field}
        if not numbers:
            continue
        column = _COLUMNS[field]
        query = select(_COLUMNS.id, _COLUMNS.email, column).where(column.in_(numbers))
        for physician_id, email, number in (await session.exec(query)).all():
            holders[(field, number)] = (physician_id, email)
    return holders


async def physicians_by_email(
    session: AsyncSession, keys: Collection[str]
) -> dict[str, dict[str, Any]]:
    """``{email: {"id": …, field: value, …}}`` of the physicians holding these email keys, in one
    query (no ORM objects: an import compares tens of thousands of them)."""
    if not keys:
        return {}
    query = select(_COLUMNS.id, *(_COLUMNS[name] for name in IMPORT_FIELDS)).where(
        _COLUMNS.email.in_(keys)
    )
    names = ("id", *IMPORT_FIELDS)
    found = (dict(zip(names, row, strict=True)) for row in (await session.exec(query)).all())
    return {row["email"]: row for row in found}


async def _one_holder_each(
    session: AsyncSession,
    rows: Sequence[ImportRow],
    claimed: Mapping[tuple[str, str], tuple[int, str]],
    result: ImportResult,
) -> list[ImportRow]:
    """The rows whose NPI and RPPS numbers no other physician holds, in the database or on an
    earlier line (``claimed``, then this batch's own rows); the others go to
    ``result.refused``, and the numbers the kept rows give to ``result.claimed``. A row refused
    claims nothing: a later row of the number's true holder still goes through."""
    holders = await identifier_holders(session, rows)
    kept: list[ImportRow] = []
    for row in rows:
        numbers = given_identifiers(row)
        refusal: IdentifierRowError | None = None
        for field, number in numbers:
            holder = holders.get((field, number))
            earlier = claimed.get((field, number)) or result.claimed.get((field, number))
            if earlier is not None and earlier[1] != row.key:  # the file's line says most
                refusal = IdentifierRowError(row.line, field, number, first=earlier[0])
            elif holder is not None and holder[1] != row.key:
                refusal = IdentifierRowError(row.line, field, number, holder=holder[0])
            if refusal is not None:
                break
        if refusal is not None:
            result.refused.append(refusal)
            continue
        result.claimed.update(dict.fromkeys(numbers, (row.line, row.key)))
        kept.append(row)
    return kept


async def import_physicians(
    session: AsyncSession,
    rows: Sequence[ImportRow],
    *,
    now: datetime,
    claimed: Mapping[tuple[str, str], tuple[int, str]] | None = None,
) -> ImportResult:
    """Create or update the physicians of ``rows`` with one read, one multi-row INSERT and one
    UPDATE per set of changed fields; flushes, never commits.

    ``rows`` give each email once (the import names a file's later rows of an email as
    :class:`~tracker.errors.DuplicateRowError`). A row giving an NPI or RPPS number that
    another physician holds, in the database as read here (whatever the rest of the file would
    do to that physician) or on an earlier line (``claimed``: the earlier batches' numbers), is
    left out and listed in ``refused``. A new email creates the physician (and a
    token, returned once), a known one is updated where the row differs, and a row that
    changes nothing is ``unchanged``. A new email another transaction inserted meanwhile is
    left to it (``ON CONFLICT DO NOTHING``) and listed in ``lost``. Inserts go in email order
    and updates in id order, so that concurrent imports take their locks in one order and never
    deadlock each other."""
    result = ImportResult()
    rows = await _one_holder_each(session, rows, claimed or {}, result)
    stored = await physicians_by_email(session, {row.key for row in rows})
    new: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    planned: list[tuple[ImportRow, Outcome]] = []
    for row in rows:
        current = stored.get(row.key)
        if current is None:
            new[row.key] = dict(row.values)
            planned.append((row, "created"))
            continue
        differing = {
            name: row.values[name] for name in row.given if current[name] != row.values[name]
        }
        if not differing:
            planned.append((row, "unchanged"))
            continue
        changed[row.key] = {"id": current["id"]} | differing
        planned.append((row, "updated"))
    inserted = await _insert_new(session, [new[key] for key in sorted(new)], now=now)
    result.lost = set(new) - set(inserted)
    result.created = [
        Newcomer(
            physician_id,
            1,
            key,
            new[key]["first_name"],
            new[key]["last_name"],
            new[key]["language"],
            token,
            feed_key,
        )
        for key in new
        if key in inserted
        for physician_id, token, feed_key in (inserted[key],)
    ]
    result.outcomes = [
        (row.line, "lost" if row.key in result.lost else outcome) for row, outcome in planned
    ]
    if changed:
        updates = sorted(changed.values(), key=lambda values: int(values["id"]))
        await session.exec(update(Physician), params=[u | {"updated_at": now} for u in updates])
    await session.flush()
    return result


async def _insert_new(
    session: AsyncSession, rows: list[dict[str, Any]], *, now: datetime
) -> dict[str, tuple[int, str, str]]:
    """Insert the physicians of ``rows`` whose email nobody holds yet; ``{email: (id, token,
    feed key)}`` of those inserted."""
    if not rows:
        return {}
    tokens = {row["email"]: new_token("phy_") for row in rows}
    feed_keys = {row["email"]: new_token(FEED_PREFIX) for row in rows}
    params = [
        row
        | {
            "token_hash": hash_token(tokens[row["email"]]),
            "feed_secret": feed_keys[row["email"]],
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
    ]
    dialect = (await session.connection()).dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # a Core statement on the table: SQLAlchemy sends the rows as multi-row VALUES
    statement = (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(_COLUMNS.email, _COLUMNS.id)
    )
    inserted = (await session.exec(statement, params=params)).all()
    return {
        email: (physician_id, tokens[email], feed_keys[email]) for email, physician_id in inserted
    }
