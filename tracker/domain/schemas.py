"""Request and response shapes of the physicians, attendance and credits API."""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from notifications.addresses import normalise_address
from schedules.clock import utcnow
from schedules.schemas import Language, TimezoneName
from tracker.domain import limits
from tracker.domain.bounds import RowId, event_time_problem
from tracker.domain.identifiers import (
    LICENSE_STATES,
    license_state_problem,
    npi_problem,
    rpps_problem,
)
from tracker.domain.numerals import folded


def _check_email(value: str) -> str:
    """Exactly one mailbox (email-validator), normalised and lower-cased (SPEC 3)."""
    return normalise_address(value)


def _check_matching_email(value: str) -> str:
    """An address used only to find a physician (attendance facts): never refused for being odd,
    since an event is kept unmatched rather than lost."""
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or not domain:
        raise ValueError(f"{value!r} is not an email address")
    return value


def _check_npi(value: str) -> str:
    value = folded(value)  # fullwidth digits are the ASCII ones; other scripts' are refused
    problem = npi_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_rpps(value: str) -> str:
    value = folded(value)
    problem = rpps_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_license_state(value: str) -> str:
    value = value.upper()
    problem = license_state_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: Bidirectional embeddings, overrides and isolates: "O'Brien" + U+202E + "evil" showed as
#: "O'Brienlive" on the certificate's verification page.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: The invisible characters real names need: ZWNJ and ZWJ shape Persian and Indic names.
NAME_JOINERS = frozenset("\u200c\u200d")
#: Why a name is refused, by error type (the pages choose their sentence by it).
NAME_ERRORS = {
    "name_blank": "must not be blank",
    "name_lines": "must be on one line, without control characters",
    "name_invisible": "must not hold invisible formatting characters "
    "(bidirectional overrides, zero-width spaces); only the joiners U+200C and U+200D",
    "name_letter": "must hold at least one letter",
}


def _name_refused(kind: str) -> PydanticCustomError:
    return PydanticCustomError(kind, NAME_ERRORS[kind])


def _person_name(value: str) -> str:
    """A name as people write it: on one line, without control characters (a line break in a
    name broke the greeting of every email to that person), without invisible formatting
    characters but the joiners (a bidirectional override reversed what followed on the
    certificate's verification page; a name of a zero-width space greeted "Bonjour  ,"), with at
    least one letter, and not blank."""
    text = value.strip()
    if not text:
        raise _name_refused("name_blank")
    categories = [unicodedata.category(char) for char in text]
    if any(category in ("Cc", "Zl", "Zp") for category in categories):
        raise _name_refused("name_lines")
    if any(
        char in BIDI_CONTROLS or (category in ("Cf", "Co", "Cn", "Cs") and char not in NAME_JOINERS)
        for char, category in zip(text, categories, strict=True)
    ):
        raise _name_refused("name_invisible")
    if not any(category.startswith("L") for category in categories):
        raise _name_refused("name_letter")
    return text


class _BirthDay(BaseModel):
    """A physician's body whose ``birth_day`` exists in its ``birth_month`` (29 February does),
    when both are given."""

    @field_validator("birth_day", check_fields=False)
    @classmethod
    def _a_day_of_the_month(cls, day: int | None, info: ValidationInfo) -> int | None:
        month = info.data.get("birth_month")
        if month is not None and day is not None and day > monthrange(2024, month)[1]:
            raise ValueError(f"month {month} has no day {day}")
        return day


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a timezone offset or Z")
    return value


def _event_time(value: datetime) -> datetime:
    problem = event_time_problem(value, now=utcnow())
    if problem:
        raise ValueError(problem)
    return value


Email = Annotated[
    str,
    Field(
        max_length=limits.EMAIL,
        examples=["jeanne.durand@example.org"],
        description="Exactly one address (internationalised ones accepted)",
    ),
    AfterValidator(_check_email),
]
MatchingEmail = Annotated[
    str,
    Field(max_length=limits.EMAIL, examples=["jeanne.durand@example.org"]),
    AfterValidator(_check_matching_email),
]
Npi = Annotated[str, Field(examples=["1234567893"]), AfterValidator(_check_npi)]
Rpps = Annotated[str, Field(examples=["10001234567"]), AfterValidator(_check_rpps)]
#: The codes of LICENSE_STATES in any case, as a JSON Schema (ECMA 262) pattern.
LICENSE_STATE_PATTERN = (
    "^(?:"
    + "|".join("".join(f"[{c}{c.lower()}]" for c in code) for code in sorted(LICENSE_STATES))
    + ")$"
)
LicenseState = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": LICENSE_STATE_PATTERN},  # checked below, with a clear message
        examples=["NY"],
        description="US state or territory of the medical licence (USPS code, any case)",
    ),
    AfterValidator(_check_license_state),
]
LicenseNumber = Annotated[
    str,
    Field(
        pattern=rf"^[A-Za-z0-9](?:[A-Za-z0-9./-]{{0,{limits.LICENSE_NUMBER - 2}}}[A-Za-z0-9])?$",
        examples=["MD123456"],
        description="Medical licence number as the state board gave it",
    ),
]
Name = Annotated[
    str, Field(min_length=1, max_length=limits.PERSON_NAME), AfterValidator(_person_name)
]
EventTime = Annotated[datetime, AfterValidator(_aware), AfterValidator(_event_time)]
#: A board's code, as ``TRACKER_COUNCIL_BOARD`` names one and the MOC credit types end
#: (``ABIM`` for ``ABIM_MOC``).
BOARD_CODE_PATTERN = rf"^[A-Za-z0-9_-]{{1,{limits.BOARD_NAME}}}$"
#: A physician's id with a board, as boards print them (``123456``, ``MMC/2011/12345``,
#: ``AB-12.3``): printed on certificates and written in the completions export.
BOARD_ID_PATTERN = rf"^[A-Za-z0-9](?:[A-Za-z0-9 ./-]{{0,{limits.BOARD_ID - 2}}}[A-Za-z0-9])?$"


def _folded_match(pattern: str, refusal: str) -> Callable[[str], str]:
    """A check that folds a value (fullwidth to ASCII) and trims it, then keeps it only if it
    matches ``pattern`` in ASCII, else says ``refusal``."""

    def check(value: str) -> str:
        value = folded(value).strip()
        if not re.fullmatch(pattern, value, re.ASCII):
            raise ValueError(refusal)
        return value

    return check


_check_board_code = _folded_match(
    BOARD_CODE_PATTERN,
    f"a board code is 1 to {limits.BOARD_NAME} letters A-Z, digits, '_' or '-', such as ABIM",
)
_check_board_id = _folded_match(
    BOARD_ID_PATTERN,
    f"a board id is 1 to {limits.BOARD_ID} letters A-Z, digits, spaces, '.', '/' or '-', "
    "beginning and ending with a letter or a digit",
)


BoardIds = Annotated[
    dict[
        Annotated[
            str,
            Field(json_schema_extra={"pattern": BOARD_CODE_PATTERN}),
            AfterValidator(_check_board_code),
        ],
        Annotated[
            str,
            Field(json_schema_extra={"pattern": BOARD_ID_PATTERN}),
            AfterValidator(_check_board_id),
        ],
    ],
    Field(max_length=limits.BOARDS),
]


class PhysicianCreate(_BirthDay):
    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    email: Email
    timezone: TimezoneName = "UTC"
    language: Language = "en"
    npi: Npi | None = None
    rpps: Rpps | None = None
    board_ids: BoardIds = Field(default_factory=dict, examples=[{"ABIM": "123456"}])
    birth_month: int | None = Field(default=None, ge=1, le=12)
    birth_day: int | None = Field(default=None, ge=1, le=31)
    license_state: LicenseState | None = None
    license_number: LicenseNumber | None = None
    consent_board_reporting: bool = False


class PhysicianUpdate(_BirthDay):
    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    timezone: TimezoneName | None = None
    language: Language | None = None
    npi: Npi | None = None
    rpps: Rpps | None = None
    board_ids: BoardIds | None = None
    birth_month: int | None = Field(default=None, ge=1, le=12)
    birth_day: int | None = Field(default=None, ge=1, le=31)
    license_state: LicenseState | None = None
    license_number: LicenseNumber | None = None
    consent_board_reporting: bool | None = None


class PhysicianPublic(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str
    timezone: str
    language: str
    npi: str | None
    rpps: str | None
    board_ids: dict[str, str]
    birth_month: int | None
    birth_day: int | None
    license_state: str | None
    license_number: str | None
    consent_board_reporting: bool
    created_at: datetime
    updated_at: datetime


class PhysicianWithToken(PhysicianPublic):
    token: str = Field(description="The personal secret token; shown once, only its hash is kept")
    feed_url: str = Field(
        description="The personal calendar feed, opened by a read-only key (not the token): "
        "the physician's page shows it again"
    )


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    physician_id: RowId | None = None
    email: Email | None = None
    over_capacity: bool = Field(
        default=False,
        description="A seat even past the series' capacity (the organiser's choice); by "
        "default a full series puts the physician at the end of its waitlist (202), as "
        "self-registration does.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> RegistrationCreate:
        if (self.physician_id is None) == (self.email is None):
            raise ValueError('give exactly one of "physician_id" or "email"')
        return self


class RegistrationPublic(BaseModel):
    series_id: int
    physician_id: int
    created_at: datetime


class WaitlistPlace(BaseModel):
    """A physician an organiser registered to a full series: a place in line (1: next)."""

    series_id: int
    physician_id: int
    status: Literal["waitlisted"] = "waitlisted"
    position: int


class AttendanceEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=limits.EVENT_ID)
    occurrence_id: RowId
    physician_id: RowId | None = None
    email: MatchingEmail | None = None
    kind: Literal["join", "leave"]
    at: EventTime
    connection_id: str | None = Field(default=None, max_length=limits.CONNECTION_ID)

    @model_validator(mode="after")
    def _who(self) -> AttendanceEventIn:
        if self.physician_id is None and self.email is None:
            raise ValueError('give "physician_id" or "email"')
        return self


class AttendanceBatch(
    RootModel[Annotated[list[AttendanceEventIn], Field(min_length=1, max_length=5000)]]
):
    """Body of ``POST /api/attendance-events``: a JSON list of events (at most 5,000)."""


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    unmatched: int


class AttendanceEventPublic(BaseModel):
    id: int
    source: str
    external_id: str
    kind: str
    at: datetime
    email: str | None
    connection_id: str | None
    zoom_webinar_id: str | None
    occurrence_id: int | None
    physician_id: int | None
    received_at: datetime
    reason: str


class AwardPublic(BaseModel):
    occurrence_id: int
    series_id: int
    series_title: str
    start: datetime
    end: datetime
    #: The session's date where it is held (its start in the series' timezone): the date its
    #: certificate, the monthly statement, the requirements and the board export give it.
    session_date: date
    minutes: float
    final: bool
    credits: dict[str, float]
    #: A series that requires claims (SPEC 7): ``open`` (final, not claimed yet: no credit
    #: counts until the physician claims), ``claimed`` (the credit is the one claimed) or
    #: ``closed`` (never claimed); ``None`` elsewhere.
    claim: Literal["open", "claimed", "closed"] | None = None
    #: An organiser revoked the session's certificate: ``credits`` is then empty (nothing of
    #: it counts, in totals, requirements, statements or exports); ``minutes`` stays.
    revoked_at: datetime | None = None
    #: The session was cancelled: it attests no credit (``credits`` all 0), ``minutes`` stays.
    cancelled: bool = False


class AttendancePublic(BaseModel):
    physician_id: int
    first_name: str
    last_name: str
    email: str
    minutes: float
    final: bool
    credits: dict[str, float]
    anomalies: list[str]
    receipt: dict[str, Any] | None = Field(
        default=None,
        description="How the credits were computed (SPEC 7 credit receipt: intervals per "
        "connection in seconds from the window's start, clipping, rounding, rules version, "
        "sources); given with ?physician_id= once the credits are final, else null",
    )
    revoked_at: datetime | None = Field(
        default=None,
        description="When the organiser revoked this session's certificate: its credits are "
        "then empty (they count nowhere); null when not revoked",
    )


class RequirementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_name=True)

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$", examples=["AMA_PRA_1"])
    required: float = Field(gt=0, le=10_000)
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> RequirementCreate:
        if self.to < self.from_:
            raise ValueError('"to" must not be before "from"')
        return self


class RequirementProgress(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    id: int
    type: str
    required: float
    earned: float
    from_: date = Field(serialization_alias="from")
    to: date


class CreditSummary(BaseModel):
    physician_id: int
    totals: dict[str, float]
    final_totals: dict[str, float]
    awards: list[AwardPublic]
    requirements: list[RequirementProgress]


class TokenRotated(BaseModel):
    token: str
    feed_url: str = Field(description="The personal calendar feed's new URL (a new read-only key)")


class OutboxMessagePublic(BaseModel):
    id: int
    key: str
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    message_id: str
    occurrence_id: int | None
    physician_id: int | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


CertificateStatus = Literal["valid", "superseded", "revoked", "withdrawn"]
WithdrawalReason = Literal["no_credit", "cancelled"]


class CertificateCheck(BaseModel):
    code: str
    valid: bool = Field(
        description="False when a later certificate replaced it, it was revoked or withdrawn"
    )
    status: CertificateStatus = Field(
        description="revoked (by an organiser) wins over superseded (a later certificate "
        "replaced it, named in superseded_by), which wins over withdrawn (the corrected "
        "award earns no credit: see withdrawn_reason)"
    )
    superseded_by: str | None
    superseded_by_revoked_at: datetime | None = Field(
        default=None,
        description="when the certificate named in superseded_by was itself revoked (then "
        "no certificate of the session is in force); null while it stands",
    )
    revoked_at: datetime | None = None
    withdrawn_at: datetime | None = Field(
        default=None,
        description="when it stopped attesting credit because the corrected award earns none "
        "(a later certificate may have replaced it since, when credit came back)",
    )
    withdrawn_reason: WithdrawalReason | None = Field(
        default=None,
        description="no_credit (late attendance data, or a claim capped at the new computed "
        "minutes, fall below the minimum) or cancelled (the session was cancelled)",
    )
    physician: str
    series_title: str
    session_start: datetime
    minutes: float
    credits: dict[str, float]
    issued_at: datetime


# self-registration ---------------------------------------------------------------------------

SelfRegistrationStatus = Literal["pending", "waitlisted", "registered", "cancelled"]


class SelfRegistrationCreate(BaseModel):
    """Body of ``POST /api/series/{id}/self-registrations`` (no auth): who asks to register.
    Nothing is registered until the address confirms the emailed link."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name
    last_name: Name
    email: Email
    language: Language = "en"
    timezone: TimezoneName = "UTC"
    npi: Npi | None = None
    rpps: Rpps | None = None
    consent_board_reporting: bool = False


class SelfRegistrationAccepted(BaseModel):
    """The same answer whether the address is known, registered already, or new."""

    status: Literal["accepted"] = "accepted"
    detail: str = Field(
        default="If the address can receive mail, a confirmation link is on its way; "
        "the registration is made once the link is opened."
    )


class SelfRegistrationPublic(BaseModel):
    """A self-registration request as organisers see it; ``position`` on the waitlist (1: next
    to get a seat) for a waitlisted one."""

    id: int
    series_id: int
    status: SelfRegistrationStatus
    email: str
    first_name: str
    last_name: str
    language: str
    timezone: str
    npi: str | None
    rpps: str | None
    consent_board_reporting: bool
    physician_id: int | None
    created_at: datetime
    expires_at: datetime = Field(description="A pending request's link stops working then")
    confirmed_at: datetime | None
    registered_at: datetime | None
    position: int | None = None


# Welcome and sign-in links (issue 10)


class PhysicianCreateRequest(PhysicianCreate):
    """``POST /api/physicians``: a physician, and whether to email them a welcome."""

    send_welcome: bool = Field(
        default=True,
        description="Email the physician a welcome with their personal page and calendar feed "
        "links and how to subscribe (false: no email)",
    )

    def physician(self) -> PhysicianCreate:
        return PhysicianCreate.model_validate(self.model_dump(exclude={"send_welcome"}))


class SignInLinkRequest(BaseModel):
    """``POST /api/sign-in-links``: the address to send a one-time sign-in link to."""

    model_config = ConfigDict(extra="forbid")

    email: Email


class SignInLinkAccepted(BaseModel):
    """The same answer whether the address is known or not."""

    status: Literal["accepted"] = "accepted"
    detail: str = Field(
        description="Always the same text: if the address belongs to a physician, a link was sent"
    )


# verifiable certificates (issue 11, point 5) -------------------------------------------------


class EnvelopedCredential(BaseModel):
    """VCDM 2.0's ``EnvelopedVerifiableCredential``: the VC-JWT in a ``data:`` URL (the
    handler writes :func:`tracker.domain.credentials.enveloped`; this model documents it)."""

    context: list[str] = Field(alias="@context")
    id: str = Field(description="data:application/vc+jwt,<the signed credential>")
    type: Literal["EnvelopedVerifiableCredential"] = "EnvelopedVerifiableCredential"
