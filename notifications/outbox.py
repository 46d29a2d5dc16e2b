"""The outbox: enqueue once per key, claim rows safely across processes, record outcomes.

A claim is a compare-and-set on the row (``status`` pending and due, or ``sending`` whose lease
ran out), so two processes never both own a row; on PostgreSQL the candidates are also read
``FOR UPDATE SKIP LOCKED`` so that workers do not queue behind each other. A row whose sender
died mid-send is claimed again when its lease ends and sent with the same bytes (same
Message-ID). A worker checks that a row is still its own (:func:`still_mine`) before sending
it, so rows it claimed but reached only after its lease ran out are not sent twice.

Enqueueing is ``INSERT … ON CONFLICT (key) DO NOTHING``: when another process queued the same
key a moment earlier, this one's transaction is neither broken nor rolled back, so the caller's
loaded objects stay usable and the rest of its batch goes on (a rollback would expire them, and
the next attribute read would need I/O that an async session cannot do: ``MissingGreenlet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notifications.addresses import (
    MAX_LENGTH,
    InvalidAddressError,
    envelope_address,
    needs_smtputf8,
    normalise_address,
)
from notifications.models import OutboxMessage, OutboxStatus

#: How long a claimed row belongs to its worker; longer than one SMTP hand-over can take.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most an hour, before attempt ``attempts + 1``."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


async def exists(session: AsyncSession, key: str) -> bool:
    """Whether ``key`` was enqueued already (check before composing an expensive message)."""
    return (
        await session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key))
    ).first() is not None


async def insert_once(session: AsyncSession, row: SQLModel, *, unique: Sequence[str]) -> bool:
    """Insert ``row`` unless a row with the same ``unique`` columns exists (even one another
    process committed a moment ago); returns whether it was inserted. Never breaks the
    transaction, never expires the session's objects. Does not commit."""
    table: Any = type(row)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = row.model_dump(exclude={"id"})
    statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
    result = await session.exec(statement)
    return bool(result.rowcount == 1)


def recipient_of(message: EmailMessage) -> tuple[str, str | None]:
    """The one envelope recipient of ``message``, and why it cannot be sent (``None``: it can).

    The last line of defence behind the validation of every email field: a ``To`` holding a
    list, or no valid address, is never handed to a transport."""
    header = message["To"]
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if len(addresses) != 1:
        shown = str(header or "")[:MAX_LENGTH]
        return shown, f"not sent: the message must have exactly one recipient, not {shown!r}"
    address = addresses[0].addr_spec
    try:
        return envelope_address(normalise_address(address, anywhere=True)), None
    except InvalidAddressError as exc:
        return address[:MAX_LENGTH], f"not sent: {exc}"


def serialise(message: EmailMessage) -> bytes:
    """The bytes to hand over: plain RFC 5322, or with UTF-8 headers (RFC 6532) when an address
    can only be written in UTF-8 (such a message then needs an SMTPUTF8 server). Headers set
    raw (:mod:`notifications.headers`) go out exactly as written."""
    addresses = [
        address.addr_spec
        for name in ("From", "To")
        for address in getattr(message[name], "addresses", ())
    ]
    policy = SMTPUTF8 if needs_smtputf8(*addresses) else SMTP
    return message.as_bytes(policy=policy.clone(refold_source="none"))


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    message: EmailMessage,
    occurrence_id: int | None = None,
    physician_id: int | None = None,
    now: datetime,
    status: OutboxStatus = OutboxStatus.PENDING,
    note: str | None = None,
) -> bool:
    """Store ``message`` under ``key`` unless the key exists; returns whether it was new. Does
    not commit: the caller's transaction holds it (a batch of messages is one commit).

    A message whose recipient cannot be sent to is stored ``failed`` with the reason, so that
    organisers see it (and nothing goes to a list of addresses)."""
    if await exists(session, key):
        return False
    recipient, problem = recipient_of(message)
    if problem is not None:
        status, note = OutboxStatus.FAILED, problem
    row = OutboxMessage(
        key=key,
        kind=kind,
        recipient=recipient,
        subject=str(message["Subject"] or "")[:500],
        message_id=str(message["Message-ID"]),
        raw=serialise(message),
        occurrence_id=occurrence_id,
        physician_id=physician_id,
        status=status,
        last_error=note,
        next_attempt_at=now,
        created_at=now,
    )
    return await insert_once(session, row, unique=["key"])


async def record_unsendable(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    recipient: str,
    reason: str,
    occurrence_id: int | None = None,
    physician_id: int | None = None,
    now: datetime,
) -> bool:
    """A message that could not even be composed: a ``failed`` row holding the reason and no
    bytes, so that it is listed for organisers instead of vanishing. Does not commit."""
    row = OutboxMessage(
        key=key,
        kind=kind,
        recipient=recipient[:MAX_LENGTH],
        subject="",
        message_id="",
        raw=b"",
        occurrence_id=occurrence_id,
        physician_id=physician_id,
        status=OutboxStatus.FAILED,
        last_error=reason,
        next_attempt_at=now,
        created_at=now,
    )
    return await insert_once(session, row, unique=["key"])


async def claim(
    session: AsyncSession, *, now: datetime, limit: int = 20, lease: timedelta = LEASE
) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for this worker, in one statement; commits the claim."""
    claimable = or_(
        (col(OutboxMessage.status) == OutboxStatus.PENDING)
        & (col(OutboxMessage.next_attempt_at) <= now),
        (col(OutboxMessage.status) == OutboxStatus.SENDING)
        & (col(OutboxMessage.claimed_until) < now),
    )
    query = (
        select(OutboxMessage.id)
        .where(claimable)
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = [row_id for row_id in (await session.exec(query)).all() if row_id is not None]
    if not candidates:
        await session.commit()
        return []
    claimed_rows = (
        await session.exec(
            update(OutboxMessage)  # the condition again: another process may have been first
            .where(col(OutboxMessage.id).in_(candidates), claimable)
            .values(
                status=OutboxStatus.SENDING,
                claimed_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
            )
            .returning(col(OutboxMessage.id))
        )
    ).all()
    await session.commit()
    claimed = [row_id for (row_id,) in claimed_rows]
    if not claimed:
        return []
    rows = await session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.id).in_(claimed))
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
    )
    return list(rows.all())


async def still_mine(
    session: AsyncSession, row: OutboxMessage, *, now: datetime, lease: timedelta = LEASE
) -> bool:
    """Just before sending a claimed row: whether this worker still holds it, with at least
    half a lease left to hand it over; commits a renewal when less is left.

    A worker sends its claimed rows one after the other; past the lease (a slow or rate-limited
    server, a long batch) another process may have claimed and sent the rows it has not reached
    yet. ``claimed_until`` is the claim's token: a row whose value changed is another's now."""
    if row.claimed_until is not None and row.claimed_until - now >= lease / 2:
        return True
    renewed = now + lease
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == row.id,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
            col(OutboxMessage.claimed_until) == row.claimed_until,
        )
        .values(claimed_until=renewed)
    )
    await session.commit()
    if result.rowcount != 1:
        return False
    row.claimed_until = renewed
    return True


async def _settle(session: AsyncSession, row_id: int, **values: object) -> None:
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.SENDING)
        .values(**values)
    )
    await session.commit()


_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel's table
#: Rows handed over, recorded: a Core statement on the table (compiled once, then cached), a
#: fraction of the cost of the same update through the ORM, paid for every burst.
_SETTLE_SENT = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(bindparam("ids", expanding=True)),
        _OUTBOX.c.status == OutboxStatus.SENDING.value,
    )
    .values(
        status=OutboxStatus.SENT.value,
        sent_at=bindparam("now"),
        claimed_until=None,
        last_error=None,
    )
)


async def mark_all_sent(session: AsyncSession, row_ids: Sequence[int], *, now: datetime) -> None:
    """Record rows handed over, in one statement (those another worker settled meanwhile are
    left as they are); commits."""
    await session.exec(_SETTLE_SENT, params={"ids": list(row_ids), "now": now})
    await session.commit()


async def mark_failed(session: AsyncSession, row: OutboxMessage, *, reason: str) -> None:
    await _settle(
        session, row.id or 0, status=OutboxStatus.FAILED, claimed_until=None, last_error=reason
    )


async def mark_retry(
    session: AsyncSession, row: OutboxMessage, *, reason: str, now: datetime
) -> None:
    """Try again later; after :data:`MAX_ATTEMPTS` the message is failed."""
    if row.attempts >= MAX_ATTEMPTS:
        await mark_failed(session, row, reason=f"gave up after {row.attempts} attempts: {reason}")
        return
    await _settle(
        session,
        row.id or 0,
        status=OutboxStatus.PENDING,
        claimed_until=None,
        last_error=reason,
        next_attempt_at=now + backoff(row.attempts),
    )


async def release(session: AsyncSession, rows: list[OutboxMessage]) -> None:
    """Give back claimed rows this worker will not send (it is stopping): due again at once."""
    for row in rows:
        await _settle(
            session,
            row.id or 0,
            status=OutboxStatus.PENDING,
            claimed_until=None,
            attempts=max(0, row.attempts - 1),
        )


async def retry_failed(
    session: AsyncSession, row_id: int, *, now: datetime
) -> OutboxMessage | None:
    """An organiser's retry: a failed row goes back to pending with a fresh attempt count."""
    row = await session.get(OutboxMessage, row_id)
    if row is None:
        return None
    if row.status == OutboxStatus.FAILED:
        row.status, row.attempts, row.next_attempt_at = OutboxStatus.PENDING, 0, now
        await session.commit()
    return row


async def retry_all_failed(session: AsyncSession, *, kind: str | None, now: datetime) -> int:
    """An organiser's bulk retry: every failed row (of ``kind``, if given) goes back to
    pending with a fresh attempt count, in one statement; returns how many."""
    query = (
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now)
    )
    if kind:
        query = query.where(col(OutboxMessage.kind) == kind)
    result = await session.exec(query)
    await session.commit()
    return int(result.rowcount or 0)
