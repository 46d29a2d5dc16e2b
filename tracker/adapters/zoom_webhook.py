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

from schedules.clock import utcnow
from tracker.domain import limits
from tracker.domain.attendance import NewEvent
from tracker.domain.bounds import event_time_problem
from tracker.errors import ZoomPayloadError, ZoomSignatureError

MAX_CLOCK_SKEW = timedelta(minutes=5)
#: Sizes of the attendance_event columns these values go to.
KINDS = {
    "webinar.participant_joined": "join",
    "meeting.participant_joined": "join",
    "webinar.participant_left": "leave",
    "meeting.participant_left": "leave",
    "webinar.ended": "ended",
    "meeting.ended": "ended",
}
_DATETIME = TypeAdapter(datetime)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.digest(secret.encode(), message, "sha256").hex()


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


def _time(value: Any, field: str, now: datetime) -> datetime:
    try:
        parsed = _iso_utc(value) or _DATETIME.validate_python(value)
    except ValidationError:
        raise ZoomPayloadError(f"{field} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Zoom sends UTC with a Z; a bare time is UTC too
    problem = event_time_problem(parsed, now=now)
    if problem:
        raise ZoomPayloadError(f"{field} {problem}")
    return parsed.astimezone(UTC)


def _iso_utc(value: Any) -> datetime | None:
    """Zoom's own shape, ``2026-12-07T18:02:11Z``, read by the standard library (a fifth of the
    cost of the general parser, which reads every other shape)."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # another shape of ISO 8601, or no time at all: the general parser says
    return None


def _event_ts(value: Any, now: datetime) -> datetime:
    """``event_ts``: Unix time in milliseconds (the end time of an ``ended`` event without one)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError
        at = datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ZoomPayloadError("event_ts is not a Unix time in milliseconds") from None
    problem = event_time_problem(at, now=now)
    if problem:
        raise ZoomPayloadError(f"event_ts {problem}")
    return at


def _text(value: Any, field: str, max_length: int) -> str | None:
    """An optional text field that is stored in a column: fits it, holds no control character
    (PostgreSQL cannot store U+0000 in text), and is text or a number (Zoom ids are numbers)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ZoomPayloadError(f"{field} is not text")
    text = str(value)
    if len(text) > max_length:
        raise ZoomPayloadError(f"{field} is longer than {max_length} characters")
    if not text.isprintable():
        raise ZoomPayloadError(f"{field} holds control characters")
    return text


def _external_id(*parts: object) -> str:
    """The deduplication key: readable when it fits its column and is printable, else a digest
    of the same parts (so a retry of the same event still finds it)."""
    joined = "|".join(str(part) for part in parts)
    if len(joined) <= limits.EXTERNAL_ID and joined.isprintable():
        return joined
    return "sha256:" + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def to_event(payload: dict[str, Any], *, now: datetime | None = None) -> NewEvent | None:
    """The attendance fact in a Zoom event, ``None`` for event types this service ignores.
    ``now`` is the service's clock (by default, read here): a fact dated later than it (beyond
    :data:`tracker.domain.bounds.FUTURE_TOLERANCE`) has not happened.

    A signed event that lacks what the fact needs, holds values no column can store, or is dated
    in the future raises
    :class:`ZoomPayloadError`: the webhook answers 422 and logs it, so Zoom's retries and the
    log show it instead of the event vanishing.
    """
    now = now or utcnow()
    name = payload.get("event")
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        return None
    body = payload.get("payload")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict):
        raise ZoomPayloadError("payload.object is missing")
    webinar_id = _text(obj.get("id"), "payload.object.id", limits.ZOOM_WEBINAR_ID)
    if webinar_id is None:
        raise ZoomPayloadError("payload.object.id (the webinar id) is missing")
    instance = obj.get("uuid", "")
    if kind == "ended":
        end_time = obj.get("end_time")
        at = (
            _time(end_time, "end_time", now)
            if end_time
            else _event_ts(payload.get("event_ts"), now)
        )
        return NewEvent(
            source="zoom",
            external_id=_external_id(name, webinar_id, instance),
            kind=kind,
            at=at,
            payload=payload,
            zoom_webinar_id=webinar_id,
        )
    participant = obj.get("participant")
    if not isinstance(participant, dict):
        raise ZoomPayloadError("payload.object.participant is missing")
    field = "join_time" if kind == "join" else "leave_time"
    at = _time(participant.get(field), f"participant.{field}", now)
    email = _text(participant.get("email"), "participant.email", limits.EMAIL)
    connection = _text(
        participant.get("participant_uuid") or participant.get("user_id") or participant.get("id"),
        "participant.participant_uuid",
        limits.CONNECTION_ID,
    )
    who = connection or email or participant.get("user_name", "")
    registrant = _text(
        participant.get("registrant_id"), "participant.registrant_id", limits.ZOOM_REGISTRANT_ID
    )
    return NewEvent(
        source="zoom",
        external_id=_external_id(name, instance, who, at.isoformat()),
        kind=kind,
        at=at,
        payload=payload,
        email=email,
        connection_id=connection,
        zoom_webinar_id=webinar_id,
        registrant_id=registrant,
    )
