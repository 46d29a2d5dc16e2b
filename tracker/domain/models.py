"""Tables owned by the service itself (the schedules tables live in ``schedules.models``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from notifications.models import OutboxMessage
from schedules.clock import UTCDateTime, utcnow
from schedules.models import FeedState, Occurrence, Series
from tracker.domain import limits
from tracker.domain.tokens import FEED_PREFIX, new_token

__all__ = [
    "AttendanceEvent",
    "Award",
    "AwardPending",
    "Certificate",
    "Claim",
    "CreditType",
    "EvaluationAnswer",
    "EvaluationQuestion",
    "FeedState",
    "JobState",
    "Occurrence",
    "OccurrenceClosure",
    "Organizer",
    "OutboxMessage",
    "Physician",
    "Registration",
    "Requirement",
    "SelfRegistration",
    "Series",
    "SignInLink",
    "SigningKey",
    "StatementRun",
    "WebSession",
    "ZoomReconciliation",
    "ZoomRegistrant",
]


class Organizer(SQLModel, table=True):
    """Someone who runs series. Only the SHA-256 of the token is stored."""

    __tablename__ = "organizer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(limits.ORGANIZER_NAME), nullable=False))
    email: str = Field(sa_column=Column(String(limits.EMAIL), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CreditType(SQLModel, table=True):
    """A kind of credit a board recognises; data, not code (seeded by the first migration)."""

    __tablename__ = "credit_type"

    code: str = Field(sa_column=Column(String(32), primary_key=True))
    #: The label shown when ``labels`` has none in the reader's language (a type created with
    #: one label only).
    label: str = Field(sa_column=Column(String(200), nullable=False))
    #: ``{language: label}`` (``fr``, ``en``): what a reader of that language sees.
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    unit: str = Field(sa_column=Column(String(32), nullable=False))
    rounding: str = Field(default="quarter", sa_column=Column(String(32), nullable=False))
    #: Whose certificate fields an award of this type prints (issue 11 point 6): ``ama``
    #: (AMA/ACCME), ``dpc`` (French DPC), ``smc`` (an Indian state medical council), or none.
    regime: str | None = Field(default=None, sa_column=Column(String(limits.REGIME), nullable=True))


def _one_holder(column: str) -> Index:
    """A unique index on ``column`` over the rows that give it: an NPI or an RPPS number
    identifies one person, so at most one physician holds each (any number hold none)."""
    given = text(f"{column} IS NOT NULL")
    return Index(
        f"uq_physician_{column}", column, unique=True, sqlite_where=given, postgresql_where=given
    )


class Physician(SQLModel, table=True):
    """A learner. ``email`` is stored lower-cased (unique case-insensitively); ``npi`` and
    ``rpps`` are unique where given (the last guard behind the domain's checks)."""

    __tablename__ = "physician"
    __table_args__ = (_one_holder("npi"), _one_holder("rpps"))

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(sa_column=Column(String(limits.PERSON_NAME), nullable=False))
    last_name: str = Field(sa_column=Column(String(limits.PERSON_NAME), nullable=False))
    email: str = Field(sa_column=Column(String(limits.EMAIL), nullable=False, unique=True))
    timezone: str = Field(default="UTC", sa_column=Column(String(limits.TIMEZONE), nullable=False))
    language: str = Field(default="en", sa_column=Column(String(limits.LANGUAGE), nullable=False))
    npi: str | None = Field(default=None, sa_column=Column(String(limits.NPI), nullable=True))
    rpps: str | None = Field(default=None, sa_column=Column(String(limits.RPPS), nullable=True))
    board_ids: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    birth_month: int | None = None
    birth_day: int | None = None
    license_state: str | None = Field(
        default=None, sa_column=Column(String(limits.LICENSE_STATE), nullable=True)
    )
    license_number: str | None = Field(
        default=None, sa_column=Column(String(limits.LICENSE_NUMBER), nullable=True)
    )
    consent_board_reporting: bool = False
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    #: The read-only key of the personal calendar feed (``cal_…``), kept as it is so that the
    #: physician's page can show the feed link again; renewed with the personal token.
    #: Null only for rows written around the ORM: the page gives them one when first shown.
    feed_secret: str | None = Field(
        default_factory=lambda: new_token(FEED_PREFIX),
        sa_column=Column(String(64), nullable=True, unique=True),
    )
    #: 1 for the first personal token, one more at each rotation (the welcome's outbox key).
    token_generation: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Registration(SQLModel, table=True):
    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("series_id", "physician_id", name="uq_registration"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="series.id", index=True, ondelete="CASCADE")
    physician_id: int = Field(foreign_key="physician.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    reminders: bool = Field(default=True, description="False once the physician unsubscribed")
    unsubscribe_token: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )


class AttendanceEvent(SQLModel, table=True):
    """One join/leave/ended fact, append-only, with the raw payload it came in.

    ``occurrence_id`` / ``physician_id`` are null while the event is unmatched; matching fills
    them in later and never changes anything else.
    """

    __tablename__ = "attendance_event"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_attendance_external"),
        #: A session's events batch by batch of physicians (finalisation), its end events
        #: (``physician_id`` null), and every read by occurrence alone (migration 0018).
        Index("ix_attendance_event_occurrence_physician", "occurrence_id", "physician_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_column=Column(String(16), nullable=False))
    external_id: str = Field(sa_column=Column(String(limits.EXTERNAL_ID), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    email: str | None = Field(
        default=None, sa_column=Column(String(limits.EMAIL), nullable=True, index=True)
    )
    connection_id: str | None = Field(
        default=None, sa_column=Column(String(limits.CONNECTION_ID), nullable=True)
    )
    zoom_webinar_id: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_WEBINAR_ID), nullable=True, index=True)
    )
    series_id: int | None = Field(
        default=None, foreign_key="series.id", index=True, ondelete="SET NULL"
    )
    occurrence_id: int | None = Field(
        default=None, foreign_key="occurrence.id", ondelete="SET NULL"
    )
    physician_id: int | None = Field(
        default=None, foreign_key="physician.id", index=True, ondelete="SET NULL"
    )
    requested_occurrence_id: int | None = None
    requested_physician_id: int | None = None
    #: The Zoom registrant the event names (webinars): matched before the email (SPEC 8).
    registrant_id: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_REGISTRANT_ID), nullable=True)
    )
    #: Taken off the organiser's list of events to match (the fact is kept; issue 12).
    dismissed: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Award(SQLModel, table=True):
    """The credit projection: what one physician earned at one occurrence."""

    __tablename__ = "award"
    __table_args__ = (UniqueConstraint("occurrence_id", "physician_id", name="uq_award"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True, ondelete="CASCADE")
    physician_id: int = Field(foreign_key="physician.id", index=True, ondelete="CASCADE")
    seconds: int = 0
    credits: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    anomalies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    final: bool = False
    version: int = 1
    computed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finalized_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    #: How the award was computed (SPEC 7 "Credit receipt", :mod:`tracker.domain.receipts`):
    #: written with every final computation, kept 6 years; null while provisional.
    receipt: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AwardPending(SQLModel, table=True):
    """An award to recompute: written in the same transaction as the facts that changed it, so
    an acknowledged event never loses its projection (a restart finds the row and resumes).

    One row per (occurrence, physician), coalescing every event until the projector runs;
    ``physician_id`` 0 stands for every attendee (a platform's end event). Each new fact raises
    ``generation``; the projector deletes the row only if the generation it read is still the
    row's, so a fact stored while it computed leaves the row for the next round. A projector
    claims rows (``lease_owner`` until ``lease_until``); a killed one's claims run out.
    """

    __tablename__ = "award_pending"

    occurrence_id: int = Field(
        sa_column=Column(Integer, ForeignKey("occurrence.id", ondelete="CASCADE"), primary_key=True)
    )
    physician_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    generation: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class OccurrenceClosure(SQLModel, table=True):
    """Marks an occurrence whose credits are final (every computation from ``closed_at`` on is
    final); ``completed_at`` once every award is final and its certificates are queued.

    Until then the row is leased to the process finalising it (``lease_owner`` until
    ``lease_until``, renewed each batch); a lease that runs out (a killed process) lets any
    process resume the work, which is idempotent.
    """

    __tablename__ = "occurrence_closure"

    occurrence_id: int = Field(
        sa_column=Column(Integer, ForeignKey("occurrence.id", ondelete="CASCADE"), primary_key=True)
    )
    closed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    #: The session's credit rules, fixed when its credits became final
    #: (:mod:`tracker.domain.credit_rules`): its awards are computed under these from then on.
    credit_rules: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )


class Requirement(SQLModel, table=True):
    """A target such as 50 AMA_PRA_1 in 2027, or 28 DPC_HOURS between two dates."""

    __tablename__ = "requirement"

    id: int | None = Field(default=None, primary_key=True)
    physician_id: int = Field(foreign_key="physician.id", index=True, ondelete="CASCADE")
    credit_type: str = Field(
        sa_column=Column(String(32), ForeignKey("credit_type.code"), nullable=False)
    )
    required: float
    start_date: date = Field(sa_column=Column(Date, nullable=False))
    end_date: date = Field(sa_column=Column(Date, nullable=False))


#: The longest reason an organiser gives for a revocation (a sentence or two).
REVOKED_REASON_MAX = 500


class Certificate(SQLModel, table=True):
    """One issued certificate (a re-issue after a late change is a new row, a new code)."""

    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "physician_id", "version", name="uq_certificate"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    occurrence_id: int = Field(foreign_key="occurrence.id", index=True, ondelete="CASCADE")
    physician_id: int = Field(foreign_key="physician.id", index=True, ondelete="CASCADE")
    version: int = 1
    minutes: float = 0
    credits: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    issued_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    #: The physician's name as issued: what its PDF, public check and credential say even after
    #: the physician's record is renamed (an auditor compares the PDF in hand with the check).
    holder_name: str | None = Field(
        default=None, sa_column=Column(String(2 * limits.PERSON_NAME + 1), nullable=True)
    )
    #: An organiser revoked it (issue 11): its page says so and its credential's status bit is set.
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    #: Why, when the organiser said (shown on the organisers' pages, not on the public check).
    revoked_reason: str | None = Field(
        default=None, sa_column=Column(String(REVOKED_REASON_MAX), nullable=True)
    )
    #: The corrected award earns no credit any more (:mod:`tracker.domain.withdrawals`): its
    #: page says so, its status bit is set; a later version (credit back) replaces it.
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    #: Why: ``no_credit`` (late attendance data, a claim capped below the minimum) or
    #: ``cancelled`` (the session was cancelled).
    withdrawn_reason: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))

    def holder(self, physician: Physician) -> str:
        """The name this certificate was issued to (the physician's name now, for a row stored
        before names were kept with certificates)."""
        return self.holder_name or f"{physician.first_name} {physician.last_name}"


class SigningKey(SQLModel, table=True):
    """The provider's Ed25519 key that signs credentials (PKCS #8 PEM), one row per ``name``:
    the first process inserts it if absent, and every process reads the stored one."""

    __tablename__ = "signing_key"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    #: An Ed25519 PKCS #8 PEM is 119 characters.
    private_key: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class JobState(SQLModel, table=True):
    """When a planner last looked, so that what came due while the service was down is found."""

    __tablename__ = "job_state"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    last_run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id, the table only its hash.

    ``credential_hash`` is the hash of the token the session was opened with: once the token
    is rotated, the session no longer matches its subject and ends.
    """

    __tablename__ = "web_session"

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: int
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    language: str = Field(default="en", sa_column=Column(String(limits.LANGUAGE), nullable=False))
    credential_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SelfRegistration(SQLModel, table=True):
    """A request to register made on the public series page or its API (SPEC 6).

    ``pending`` until the address confirms it with the emailed one-time link (only the SHA-256 of
    its code is kept, cleared once used); then ``registered`` (a :class:`Registration` exists) or
    ``waitlisted`` past the series' capacity, in ``confirmed_at`` order, until a seat frees up;
    ``cancelled`` when the physician leaves the waitlist (or was already on it). A pending request
    past ``expires_at`` is dead: its link no longer works.
    """

    __tablename__ = "self_registration"
    __table_args__ = (
        Index("ix_self_registration_queue", "series_id", "status", "confirmed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="series.id", ondelete="CASCADE")
    email: str = Field(sa_column=Column(String(320), nullable=False, index=True))
    first_name: str = Field(sa_column=Column(String(100), nullable=False))
    last_name: str = Field(sa_column=Column(String(100), nullable=False))
    language: str = Field(default="en", sa_column=Column(String(8), nullable=False))
    timezone: str = Field(default="UTC", sa_column=Column(String(64), nullable=False))
    npi: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    rpps: str | None = Field(default=None, sa_column=Column(String(11), nullable=True))
    consent_board_reporting: bool = False
    status: str = Field(default="pending", sa_column=Column(String(16), nullable=False))
    code_hash: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    physician_id: int | None = Field(
        default=None, foreign_key="physician.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    registered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class SignInLink(SQLModel, table=True):
    """A one-time sign-in link sent by email: only the SHA-256 of its code is stored. It opens
    one page session before ``expires_at``; ``used_at`` is set by the one ``UPDATE`` that
    consumes it, so two clicks at the same moment open one session."""

    __tablename__ = "sign_in_link"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    physician_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("physician.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# Claims and evaluations (SPEC 7, issue 11) ----------------------------------------------------


class EvaluationQuestion(SQLModel, table=True):
    """One question of a series' evaluation, worded in French and English.

    Editing the evaluation keeps a question's row while its id is sent back; a question left out
    is ``retired`` (kept, so that the answers already given keep their question), never deleted.
    ``kind`` is ``scale`` (1 to 5), ``yes_no`` or ``text``.
    """

    __tablename__ = "evaluation_question"
    __table_args__ = (Index("ix_evaluation_question_series", "series_id", "retired", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = 0
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    text_fr: str = Field(sa_column=Column(String(limits.QUESTION_TEXT), nullable=False))
    text_en: str = Field(sa_column=Column(String(limits.QUESTION_TEXT), nullable=False))
    retired: bool = False


class Claim(SQLModel, table=True):
    """A physician's claim of credit for one session of a series that requires claims.

    Made when the session's credits become final (with the email carrying its link); the link's
    code is 256 random bits of which only the SHA-256 is kept (``code_hash``; the reminder's
    link has its own, ``reminder_code_hash``). ``claimed_at`` is set by the one ``UPDATE`` that
    accepts the claim (a second submit changes nothing); past ``closes_at`` nothing is accepted.
    """

    __tablename__ = "claim"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "physician_id", name="uq_claim"),
        Index("ix_claim_open", "claimed_at", "closes_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(
        sa_column=Column(Integer, ForeignKey("occurrence.id", ondelete="CASCADE"), nullable=False)
    )
    physician_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("physician.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    reminder_code_hash: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closes_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    #: The minutes attested (at most the computed ones) and the credit they give.
    claimed_minutes: float | None = None
    claimed_credits: dict[str, float] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class EvaluationAnswer(SQLModel, table=True):
    """One answer of one claim to one question; ``occurrence_id`` repeated for the per-session
    results (counts and means in one grouped query). Answers are not linked to a name in the
    results or the export, only to their claim."""

    __tablename__ = "evaluation_answer"
    __table_args__ = (
        UniqueConstraint("claim_id", "question_id", name="uq_evaluation_answer"),
        Index("ix_evaluation_answer_results", "occurrence_id", "question_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(
        sa_column=Column(Integer, ForeignKey("claim.id", ondelete="CASCADE"), nullable=False)
    )
    occurrence_id: int = Field(
        sa_column=Column(Integer, ForeignKey("occurrence.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("evaluation_question.id", ondelete="CASCADE"), nullable=False
        )
    )
    scale: int | None = None
    yes: bool | None = None
    text: str | None = Field(
        default=None, sa_column=Column(String(limits.ANSWER_TEXT), nullable=True)
    )


# Zoom account integration (SPEC 8) -------------------------------------------------------------


class ZoomRegistrant(SQLModel, table=True):
    """A registration as a Zoom registrant of its series' webinar, kept in step behind the
    registration's answer: ``state`` is ``add`` (to register), ``added`` (Zoom gave its
    ``registrant_id`` and the personal ``join_url``), ``replace`` (the physician's email or
    name changed: to cancel at Zoom, then to add again), ``cancel`` (the registration or the
    physician is gone: to cancel at Zoom) or ``cancelled``. ``email``, ``first_name`` and
    ``last_name`` are what was sent to Zoom (Zoom has no registrant update, and cancels by
    registrant id and email); ``physician_id`` is ``NULL`` once the physician is deleted.
    A failed attempt keeps the state, counts ``attempts``, says why in ``error`` and waits
    until ``next_attempt_at``; a worker claims rows (``lease_owner`` until ``lease_until``) so
    that several processes share the work."""

    __tablename__ = "zoom_registrant"
    __table_args__ = (
        UniqueConstraint("series_id", "physician_id", name="uq_zoom_registrant"),
        Index("ix_zoom_registrant_registrant", "zoom_webinar_id", "registrant_id"),
        Index("ix_zoom_registrant_state", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(
        sa_column=Column(Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False)
    )
    physician_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("physician.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    zoom_webinar_id: str = Field(sa_column=Column(String(limits.ZOOM_WEBINAR_ID), nullable=False))
    state: str = Field(default="add", sa_column=Column(String(16), nullable=False))
    registrant_id: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_REGISTRANT_ID), nullable=True)
    )
    join_url: str | None = Field(
        default=None, sa_column=Column(String(limits.JOIN_URL), nullable=True)
    )
    email: str | None = Field(default=None, sa_column=Column(String(limits.EMAIL), nullable=True))
    first_name: str | None = Field(
        default=None, sa_column=Column(String(limits.PERSON_NAME), nullable=True)
    )
    last_name: str | None = Field(
        default=None, sa_column=Column(String(limits.PERSON_NAME), nullable=True)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    error: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_ERROR), nullable=True)
    )
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ZoomReconciliation(SQLModel, table=True):
    """One reading of an occurrence's participant report from Zoom: the rounds ``1h`` and
    ``24h`` after its end (planned from the database, once each: the unique key), and
    ``manual:…`` ones an organiser or the CLI asks for. ``status``: ``due``, ``running`` (under
    ``lease_owner`` until ``lease_until``; a killed process's lease runs out), ``ok`` or
    ``failed`` (``reason`` says why, for the organiser's retry)."""

    __tablename__ = "zoom_reconciliation"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "round", name="uq_zoom_reconciliation"),
        Index("ix_zoom_reconciliation_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("occurrence.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    round: str = Field(sa_column=Column(String(40), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default="due", sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(
        default=None, sa_column=Column(String(limits.ZOOM_ERROR), nullable=True)
    )
    rows: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    added: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    started_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


# Monthly statements ---------------------------------------------------------------------------


class StatementRun(SQLModel, table=True):
    """One physician's statement of one month (``period``, ``YYYY-MM``), composed by one
    process: ``status`` is ``due``, ``running`` (under ``lease_owner`` until ``lease_until``; a
    killed process's lease runs out and another takes it over) or ``done`` (queued in the
    outbox, or recorded there as unsendable). The unique key makes it one row however many
    processes plan the month."""

    __tablename__ = "statement_run"
    __table_args__ = (
        UniqueConstraint("period", "physician_id", name="uq_statement_run"),
        Index("ix_statement_run_status", "status", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(sa_column=Column(String(7), nullable=False))
    physician_id: int = Field(
        sa_column=Column(Integer, ForeignKey("physician.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default="due", sa_column=Column(String(16), nullable=False))
    lease_owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
