"""Request and response shapes of the series API; the OpenAPI document is generated from them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
)

from schedules import limits
from schedules.errors import UnknownTimezoneError
from schedules.recurrence import resolve_timezone

Language = Literal["fr", "en"]
_DURATION = TypeAdapter(timedelta)
#: ``\d`` of ASCII only: Python's reads any script's digits ("P\u0661D").
_ISO_DURATION = re.compile(r"^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$", re.ASCII)


def _check_timezone(value: str) -> str:
    try:
        resolve_timezone(value)
    except UnknownTimezoneError as exc:
        raise ValueError(exc.message) from None
    return value


def _check_local(value: datetime) -> datetime:
    if value.tzinfo is not None:
        raise ValueError("give the local time of the series' timezone, without an offset")
    return value.replace(microsecond=0)


def _check_reminder(value: str) -> str:
    if not _ISO_DURATION.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as P1D or PT1H")
    delta = _DURATION.validate_python(value)
    if not timedelta(minutes=1) <= delta <= timedelta(days=60):
        raise ValueError(f"{value!r} must be between one minute and 60 days")
    return value


_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _check_url(value: str) -> str:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        # the URL parser drops tabs and line breaks (WHATWG): what was pasted would be stored
        # silently changed, "…/j/1\r\nX: y" as "…/j/1X:%20y"
        raise ValueError("holds a line break or another control character")
    url = str(_HTTP_URL.validate_python(value))
    if len(url) > limits.JOIN_URL:  # normalising adds a "/" or punycode: it must still fit
        raise ValueError(f"is longer than {limits.JOIN_URL} characters once normalised")
    return url


TimezoneName = Annotated[
    str,
    Field(max_length=limits.TIMEZONE, examples=["Europe/Paris"]),
    AfterValidator(_check_timezone),
]
#: A local wall-clock time is a date-time without an offset, which JSON Schema's "date-time"
#: format does not allow: the document says what the API really reads and writes.
LOCAL_DATE_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"
LOCAL_DATE_TIME_SCHEMA = {
    "type": "string",
    "pattern": LOCAL_DATE_TIME,
    "description": "Local wall-clock time in the series' timezone, no offset; within 10 years of now",
    "examples": ["2026-01-05T12:30:00"],
}
LocalDateTime = Annotated[
    datetime,
    WithJsonSchema(LOCAL_DATE_TIME_SCHEMA),
    AfterValidator(_check_local),
]
#: What the API says of a rule; the checks themselves are in schedules.recurrence and .window.
RULE_DESCRIPTION = (
    "RFC 5545 RRULE (DAILY, WEEKLY, MONTHLY or YEARLY); at most one session per local day, "
    "at most 1,000 within the horizon, UNTIL within 10 years of now; omit for a single session"
)
ReminderOffset = Annotated[
    str, Field(max_length=limits.REMINDER_OFFSET, examples=["P1D"]), AfterValidator(_check_reminder)
]
JoinUrl = Annotated[
    str,
    Field(
        max_length=limits.JOIN_URL,
        json_schema_extra={"format": "uri"},
        examples=["https://zoom.us/j/81234567890"],
    ),
    AfterValidator(_check_url),
]
Title = Annotated[str, Field(min_length=1, max_length=limits.TITLE)]
Description = Annotated[str, Field(max_length=limits.DESCRIPTION)]
Duration = Annotated[int, Field(ge=5, le=24 * 60, description="Minutes")]
#: A Zoom id as people type it: 9 to 12 digits, groups split by single spaces or hyphens
#: ("812 3456 7890", as Zoom prints it); stored as its digits.
ZOOM_ID = r"^[0-9](?:[ -]?[0-9]){8,11}$"


def _zoom_digits(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


ZoomId = Annotated[
    str,
    Field(
        pattern=ZOOM_ID,
        description="Zoom webinar or meeting id; spaces or hyphens between digits are dropped",
        examples=["812 3456 7890"],
    ),
    AfterValidator(_zoom_digits),
]
#: ACCME PARS activity id (the id PARS gave the activity, or the provider's own activity id).
ParsActivityId = Annotated[
    str,
    Field(
        pattern=rf"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{{0,{limits.PARS_ACTIVITY_ID - 2}}}[A-Za-z0-9])?$",
        description="ACCME PARS activity id, written in the completions export",
        examples=["202612345"],
    ),
]
#: The reference ANDPC gave the DPC action (letters and digits, as printed on its record).
DpcActionRef = Annotated[
    str,
    Field(
        pattern=rf"^[A-Za-z0-9]{{5,{limits.DPC_ACTION_REF}}}$",
        description="French DPC: the action's reference (ANDPC), printed on DPC certificates",
        examples=["99992625001"],
    ),
]
#: A state medical council's accreditation reference of the event (India).
CouncilAccreditationRef = Annotated[
    str,
    Field(
        pattern=rf"^[A-Za-z0-9](?:[A-Za-z0-9 ._/()-]{{0,{limits.COUNCIL_ACCREDITATION_REF - 2}}}"
        r"[A-Za-z0-9)])?$",
        description="Indian state medical council: the council's accreditation reference of the "
        "event, printed on certificates carrying the council's credit hours",
        examples=["MMC/MAC/2026/C-012345"],
    ),
]
Percent = Annotated[float, Field(ge=0, le=100)]
#: Who may register to a series: anyone through the public page (``open``), nobody on their own
#: (``closed``), or only those an organiser registers (``invite``).
RegistrationMode = Literal["open", "closed", "invite"]
ClaimWindowDays = Annotated[
    int,
    Field(
        ge=limits.CLAIM_WINDOW_DAYS_MIN,
        le=limits.CLAIM_WINDOW_DAYS_MAX,
        description="Days during which an attendee may claim their credit, counted from when it is "
        "offered (their credit first final: the finalisation, or a late report that gives credit)",
    ),
]
Capacity = Annotated[
    int, Field(ge=1, le=1_000_000, description="Seats; past them, confirmed requests wait in order")
]


def _whole_quarters(value: float) -> float:
    """Exactly a multiple of 0.25 (pydantic's ``multiple_of`` lets 5e-324 through)."""
    if not (value * 4).is_integer():
        raise ValueError("must be a multiple of 0.25")
    return value


class CreditDesignation(BaseModel):
    """The maximum credit of one type designated for each occurrence."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$", examples=["AMA_PRA_1"])
    max: Annotated[float, AfterValidator(_whole_quarters)] = Field(
        gt=0, le=100, multiple_of=0.25, examples=[1.0]
    )


def _unique_types(value: list[CreditDesignation]) -> list[CreditDesignation]:
    types = [credit.type for credit in value]
    if len(types) != len(set(types)):
        raise ValueError("each credit type may be designated once")
    return value


Credits = Annotated[list[CreditDesignation], Field(max_length=10), AfterValidator(_unique_types)]


class SeriesCreate(BaseModel):
    """Body of ``POST /api/series``."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    timezone: TimezoneName
    start: LocalDateTime
    duration_minutes: Duration
    rrule: str | None = Field(
        default=None,
        max_length=limits.RRULE,
        description=RULE_DESCRIPTION,
        examples=["FREQ=WEEKLY;BYDAY=MO"],
    )
    join_url: JoinUrl
    credits: Credits = Field(default_factory=list)
    min_attendance_percent: Percent | None = None
    reminders: list[ReminderOffset] = Field(default_factory=lambda: ["P1D", "PT1H"], max_length=10)
    language: Language = "en"
    zoom_webinar_id: ZoomId | None = None
    pars_activity_id: ParsActivityId | None = None
    dpc_action_ref: DpcActionRef | None = None
    council_accreditation_ref: CouncilAccreditationRef | None = None
    public: bool = True
    registration: RegistrationMode = "closed"
    capacity: Capacity | None = None
    claim_required: bool = Field(
        default=False,
        description="Certificates wait for the physician's claim (attested minutes and the "
        "evaluation), made from a link in the credits-are-final email",
    )
    claim_window_days: ClaimWindowDays = 30


class SeriesUpdate(BaseModel):
    """Body of ``PATCH /api/series/{id}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    timezone: TimezoneName | None = None
    start: LocalDateTime | None = None
    duration_minutes: Duration | None = None
    rrule: str | None = Field(default=None, max_length=limits.RRULE, description=RULE_DESCRIPTION)
    join_url: JoinUrl | None = None
    credits: Credits | None = None
    min_attendance_percent: Percent | None = None
    reminders: list[ReminderOffset] | None = Field(default=None, max_length=10)
    language: Language | None = None
    zoom_webinar_id: ZoomId | None = None
    pars_activity_id: ParsActivityId | None = None
    dpc_action_ref: DpcActionRef | None = None
    council_accreditation_ref: CouncilAccreditationRef | None = None
    public: bool | None = None
    registration: RegistrationMode | None = None
    capacity: Capacity | None = None
    claim_required: bool | None = None
    claim_window_days: ClaimWindowDays | None = None


class SeriesPublic(BaseModel):
    """A series as the API shows it."""

    id: int
    slug: str
    uid: str
    title: str
    description: str
    timezone: str
    start: Annotated[datetime, WithJsonSchema(LOCAL_DATE_TIME_SCHEMA)] = Field(
        description="First start, local wall-clock time (no offset)"
    )
    duration_minutes: int
    rrule: str | None
    join_url: str
    credits: list[CreditDesignation]
    min_attendance_percent: float | None
    reminders: list[str]
    language: str
    zoom_webinar_id: str | None
    pars_activity_id: str | None
    dpc_action_ref: str | None = None
    council_accreditation_ref: str | None = None
    public: bool
    registration: RegistrationMode
    capacity: int | None
    claim_required: bool
    claim_window_days: int
    sequence: int
    feed_url: str
    created_at: datetime
    updated_at: datetime
    final_sessions_keeping_rules: int | None = Field(
        default=None,
        description="In the answer to PATCH only: how many sessions whose credits are final "
        "keep credit rules (designations, maxima, roundings, minimum attendance) other than the "
        "series' rules now; an edit of the credit rules applies to sessions not final yet",
    )


class SeriesCreated(BaseModel):
    id: int
    slug: str
    feed_url: str


class OccurrencePublic(BaseModel):
    id: int
    series_id: int
    start: datetime
    end: datetime
    status: Literal["scheduled", "cancelled", "moved"]
    sequence: int
    recurrence_id: datetime = Field(description="The start the series' rule gives this occurrence")


class OccurrenceUpdate(BaseModel):
    """Body of ``PATCH /api/occurrences/{id}``: cancel, restore, or move (start and/or duration).

    A ``start`` without an offset is read in the series' timezone.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["cancelled", "scheduled"] | None = None
    start: (
        Annotated[
            datetime,
            WithJsonSchema(
                {
                    "anyOf": [
                        {"type": "string", "format": "date-time"},
                        {"type": "string", "pattern": LOCAL_DATE_TIME},
                    ],
                    "description": "New start: an instant with an offset or Z, or a local time of the series' timezone without an offset; within 10 years of now",
                }
            ),
        ]
        | None
    ) = None
    duration_minutes: Duration | None = None
