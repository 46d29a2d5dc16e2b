"""Tables of the schedules package: series, their materialised occurrences, feed validators."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Enum,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel
from typing_extensions import TypedDict

from schedules import limits
from schedules.clock import UTCDateTime, utcnow


class OccurrenceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    MOVED = "moved"


class StoredCredit(TypedDict):
    """One credit designation as a series stores it (``schedules.schemas.CreditDesignation``
    validated it on the way in): the type's code and the most each occurrence can earn."""

    type: str
    max: float


class Series(SQLModel, table=True):
    """A webinar series: a first local start, an optional RRULE and everything shown in feeds."""

    __tablename__ = "series"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(sa_column=Column(String(limits.UID), nullable=False, unique=True))
    slug: str = Field(sa_column=Column(String(limits.SLUG), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(limits.TITLE), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    timezone: str = Field(sa_column=Column(String(limits.TIMEZONE), nullable=False))
    start_local: datetime = Field(sa_column=Column(DateTime(timezone=False), nullable=False))
    duration_minutes: int
    rrule: str | None = Field(default=None, sa_column=Column(String(limits.RRULE), nullable=True))
    join_url: str = Field(sa_column=Column(String(limits.JOIN_URL), nullable=False))
    credits: list[StoredCredit] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    min_attendance_percent: float | None = None
    reminders: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str = Field(default="en", sa_column=Column(String(limits.LANGUAGE), nullable=False))
    zoom_webinar_id: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_WEBINAR_ID), nullable=True, index=True)
    )
    pars_activity_id: str | None = Field(
        default=None, sa_column=Column(String(limits.PARS_ACTIVITY_ID), nullable=True)
    )
    #: Certificate content per regime (issue 11 point 6): printed when a DPC credit type or an
    #: Indian state medical council's credit type is designated.
    dpc_action_ref: str | None = Field(
        default=None, sa_column=Column(String(limits.DPC_ACTION_REF), nullable=True)
    )
    council_accreditation_ref: str | None = Field(
        default=None, sa_column=Column(String(limits.COUNCIL_ACCREDITATION_REF), nullable=True)
    )
    public: bool = True
    #: Self-registration (SPEC 6): ``open`` (the public form), ``closed``, ``invite`` (organisers
    #: register people); ``capacity``: seats before the waitlist (none: unlimited).
    registration: str = Field(
        default="closed", sa_column=Column(String(8), nullable=False, server_default="closed")
    )
    capacity: int | None = None
    #: Claims (SPEC 7): certificates wait for the physician's claim, open this many days.
    claim_required: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    claim_window_days: int = Field(
        default=30, sa_column=Column(Integer, nullable=False, server_default="30")
    )
    sequence: int = 0
    horizon_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Occurrence(SQLModel, table=True):
    """One session of a series. ``recurrence_id`` is the start the rule gives it (its identity)."""

    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("series_id", "recurrence_id", name="uq_occurrence_series_recurrence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="series.id", index=True, ondelete="CASCADE")
    recurrence_id: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: OccurrenceStatus = Field(
        default=OccurrenceStatus.SCHEDULED,
        # Stored as the plain value in a VARCHAR(16), as before (no database enum type, no
        # CHECK constraint): read back as the enum member.
        sa_column=Column(
            Enum(
                OccurrenceStatus,
                native_enum=False,
                create_constraint=False,
                length=16,
                values_callable=lambda members: [member.value for member in members],
            ),
            nullable=False,
        ),
    )
    sequence: int = 0
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class FeedState(SQLModel, table=True):
    """What a feed last looked like, so that ``Last-Modified`` never goes backwards."""

    __tablename__ = "feed_state"

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    etag: str = Field(sa_column=Column(String(80), nullable=False))
    last_modified: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    #: The version of the data these bytes were rendered from (see ``feeds.feed_stamp``).
    stamp: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
