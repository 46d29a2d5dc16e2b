"""How long each stored text of a series may be: the one place the column widths and the API's
``max_length`` checks both read, so the two can never disagree."""

from __future__ import annotations

UID = 64
SLUG = 120
TITLE = 200
DESCRIPTION = 20_000
TIMEZONE = 64
RRULE = 500
JOIN_URL = 2000
LANGUAGE = 8
ZOOM_WEBINAR_ID = 32
PARS_ACTIVITY_ID = 50
CREDIT_TYPE = 32
REMINDER_OFFSET = 20
#: Claims (SPEC 7): how many days after a session its attendees may claim their credit.
CLAIM_WINDOW_DAYS_MIN = 1
CLAIM_WINDOW_DAYS_MAX = 365
#: Certificate content per regime (issue 11 point 6): the French DPC action's reference
#: (ANDPC's number of the action, e.g. ``99992625001``) and an Indian state medical council's
#: accreditation reference of the event (e.g. ``MMC/MAC/2026/C-012345``).
DPC_ACTION_REF = 20
COUNCIL_ACCREDITATION_REF = 64
