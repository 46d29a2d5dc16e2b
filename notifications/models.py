"""The durable outbox: one row per message, keyed by what the message is."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Integer, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from schedules.clock import UTCDateTime, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutboxMessage(SQLModel, table=True):
    """A message to send exactly once. ``raw`` is the whole RFC 5322 message, Message-ID included,
    so a retry after a crash sends the very same bytes."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(300), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    recipient: str = Field(sa_column=Column(String(320), nullable=False))
    subject: str = Field(sa_column=Column(String(500), nullable=False))
    message_id: str = Field(sa_column=Column(String(300), nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    occurrence_id: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, index=True)
    )
    physician_id: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, index=True)
    )
    status: str = Field(
        default=OutboxStatus.PENDING, sa_column=Column(String(16), nullable=False, index=True)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
