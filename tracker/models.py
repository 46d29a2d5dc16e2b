"""Tables owned by the service itself (the schedules tables live in ``schedules.models``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from schedules.clock import UTCDateTime, utcnow
from schedules.models import FeedState, Occurrence, Series

__all__ = ["CreditType", "FeedState", "Occurrence", "Organizer", "Series"]


class Organizer(SQLModel, table=True):
    """Someone who runs series. Only the SHA-256 of the token is stored."""

    __tablename__ = "organizer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str = Field(sa_column=Column(String(320), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CreditType(SQLModel, table=True):
    """A kind of credit a board recognises; data, not code (seeded by the first migration)."""

    __tablename__ = "credit_type"

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    label: str = Field(sa_column=Column(String(200), nullable=False))
    unit: str = Field(sa_column=Column(String(32), nullable=False))
    rounding: str = Field(default="quarter", sa_column=Column(String(32), nullable=False))
