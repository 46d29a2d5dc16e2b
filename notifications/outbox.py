"""The outbox: enqueue once per key, claim rows safely across processes, record outcomes.

A claim is a compare-and-set on the row (``status`` pending and due, or ``sending`` whose lease
ran out), so two processes never both own a row; on PostgreSQL the candidates are also read
``FOR UPDATE SKIP LOCKED`` so that workers do not queue behind each other. A row whose sender
died mid-send is claimed again when its lease ends and sent with the same bytes (same
Message-ID).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
    """Store ``message`` under ``key`` unless the key exists; returns whether it was new. Commits."""
    if await exists(session, key):
        return False
    row = OutboxMessage(
        key=key,
        kind=kind,
        recipient=str(message["To"]),
        subject=str(message["Subject"]),
        message_id=str(message["Message-ID"]),
        raw=message.as_bytes(policy=SMTP),
        occurrence_id=occurrence_id,
        physician_id=physician_id,
        status=status,
        last_error=note,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:  # the same key, enqueued by another process a moment ago
        await session.rollback()
        return False
    return True


async def claim(
    session: AsyncSession, *, now: datetime, limit: int = 20, lease: timedelta = LEASE
) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for this worker; commits the claim."""
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
    claimed: list[int] = []
    for row_id in candidates:
        result = await session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id, claimable)
            .values(
                status=OutboxStatus.SENDING,
                claimed_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
            )
        )
        if result.rowcount == 1:
            claimed.append(row_id)
    await session.commit()
    if not claimed:
        return []
    rows = await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(claimed)))
    return list(rows.all())


async def _settle(session: AsyncSession, row_id: int, **values: object) -> None:
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.SENDING)
        .values(**values)
    )
    await session.commit()


async def mark_sent(session: AsyncSession, row: OutboxMessage, *, now: datetime) -> None:
    await _settle(
        session,
        row.id or 0,
        status=OutboxStatus.SENT,
        sent_at=now,
        claimed_until=None,
        last_error=None,
    )


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


async def list_messages(
    session: AsyncSession, *, status: str | None, limit: int = 500
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list((await session.exec(query)).all())
