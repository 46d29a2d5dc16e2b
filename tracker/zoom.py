"""Zoom webhooks: signature checks and the participant events this service understands.

Signature: ``x-zm-signature`` = ``v0=`` + hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``),
with the timestamp no more than five minutes from now.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tracker.attendance import NewEvent

MAX_CLOCK_SKEW = timedelta(minutes=5)
KINDS = {
    "webinar.participant_joined": "join",
    "meeting.participant_joined": "join",
    "webinar.participant_left": "leave",
    "meeting.participant_left": "leave",
    "webinar.ended": "ended",
    "meeting.ended": "ended",
}
_DATETIME = TypeAdapter(datetime)


class ZoomSignatureError(Exception):
    """The request does not carry a valid, fresh Zoom signature."""


class ZoomPayloadError(ValueError):
    """The payload lacks what a participant or end event needs."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> None:
    if not timestamp or not signature:
        raise ZoomSignatureError("missing x-zm-request-timestamp or x-zm-signature")
    try:
        sent = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise ZoomSignatureError("x-zm-request-timestamp is not a Unix time") from None
    if abs(now - sent) > MAX_CLOCK_SKEW:
        raise ZoomSignatureError("x-zm-request-timestamp is more than 5 minutes from now")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise ZoomSignatureError("x-zm-signature does not match")


def url_validation(secret: str, plain_token: str) -> dict[str, str]:
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


def _time(value: Any, field: str) -> datetime:
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError:
        raise ZoomPayloadError(f"{field} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Zoom sends UTC with a Z; a bare time is UTC too
    return parsed.astimezone(UTC)


def to_event(payload: dict[str, Any]) -> NewEvent | None:
    """The attendance fact in a Zoom event, ``None`` for event types this service ignores."""
    name = payload.get("event")
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        return None
    body = payload.get("payload")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict) or obj.get("id") in (None, ""):
        raise ZoomPayloadError("payload.object.id (the webinar id) is missing")
    webinar_id, instance = str(obj["id"]), str(obj.get("uuid", ""))
    if kind == "ended":
        at = _time(
            obj.get("end_time")
            or datetime.fromtimestamp(int(payload.get("event_ts", 0)) / 1000, UTC),
            "end_time",
        )
        return NewEvent(
            source="zoom",
            external_id=f"{name}|{webinar_id}|{instance}",
            kind=kind,
            at=at,
            payload=payload,
            zoom_webinar_id=webinar_id,
        )
    participant = obj.get("participant")
    if not isinstance(participant, dict):
        raise ZoomPayloadError("payload.object.participant is missing")
    field = "join_time" if kind == "join" else "leave_time"
    at = _time(participant.get(field), f"participant.{field}")
    email = participant.get("email") or None
    connection = (
        participant.get("participant_uuid") or participant.get("user_id") or participant.get("id")
    )
    who = connection or email or participant.get("user_name", "")
    return NewEvent(
        source="zoom",
        external_id=f"{name}|{instance}|{who}|{at.isoformat()}",
        kind=kind,
        at=at,
        payload=payload,
        email=str(email) if email else None,
        connection_id=str(connection) if connection else None,
        zoom_webinar_id=webinar_id,
    )
