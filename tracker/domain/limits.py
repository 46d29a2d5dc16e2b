"""How long each stored text of a person or an attendance fact may be: the one place the column
widths (``tracker.domain.models``) and the API's checks (``tracker.domain.schemas``) both read."""

from __future__ import annotations

from schedules.limits import (
    CLAIM_WINDOW_DAYS_MAX,
    CLAIM_WINDOW_DAYS_MIN,
    COUNCIL_ACCREDITATION_REF,
    DPC_ACTION_REF,
    JOIN_URL,
    LANGUAGE,
    TIMEZONE,
    ZOOM_WEBINAR_ID,
)

__all__ = [
    "CLAIM_WINDOW_DAYS_MAX",
    "CLAIM_WINDOW_DAYS_MIN",
    "COUNCIL_ACCREDITATION_REF",
    "DPC_ACTION_REF",
    "JOIN_URL",
    "LANGUAGE",
    "TIMEZONE",
    "ZOOM_WEBINAR_ID",
]

#: RFC 5321: a path is at most 256 octets; 320 is the customary local part (64) + @ + domain (255).
EMAIL = 320
PERSON_NAME = 100
ORGANIZER_NAME = 200
NPI = 10
RPPS = 11
LICENSE_STATE = 2
LICENSE_NUMBER = 30
BOARD_NAME = 32
BOARD_ID = 64
BOARDS = 10
#: An attendance fact's id as its sender gives it, and as stored after the source's prefix.
EVENT_ID = 200
EXTERNAL_ID = 300
CONNECTION_ID = 200
#: Evaluations and claims (SPEC 7): questions per series, the wording of one question (each
#: language), a free-text answer, and the attested minutes a claim may hold.
EVALUATION_QUESTIONS = 20
QUESTION_TEXT = 300
ANSWER_TEXT = 2000
CLAIM_MINUTES_MAX = 100_000
#: Certificate regimes (issue 11 point 6): a credit type's regime code; the provider's DPC
#: name and ODPC number, an Indian state medical council's name and the board key under which
#: physicians' registration numbers with it are kept (``board_ids``), as settings.
REGIME = 16
DPC_PROVIDER_NUMBER = 8
COUNCIL_NAME = 200
#: Zoom's registrant ids (about 22 characters today) and the reason a Zoom call failed.
ZOOM_REGISTRANT_ID = 64
ZOOM_ERROR = 500
