"""How long each stored text of a person or an attendance fact may be: the one place the column
widths (``tracker.domain.models``) and the API's checks (``tracker.domain.schemas``) both read."""

from __future__ import annotations

from schedules.limits import JOIN_URL, LANGUAGE, TIMEZONE, ZOOM_WEBINAR_ID

__all__ = ["JOIN_URL", "LANGUAGE", "TIMEZONE", "ZOOM_WEBINAR_ID"]

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
#: Zoom's registrant ids (about 22 characters today) and the reason a Zoom call failed.
ZOOM_REGISTRANT_ID = 64
ZOOM_ERROR = 500
