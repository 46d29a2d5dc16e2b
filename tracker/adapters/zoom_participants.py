"""Rows of Zoom's participant report (``GET /report/webinars/{uuid}/participants``) as facts.

Each row is one stay (a join and its leave) of one connection; a rejoin is another row. Each
becomes a join and a leave with source ``report``, ids derived from the instance, the row's
participant id and its times, so that reading the report again (1 h, then 24 h after the end,
or by hand) adds nothing. A row's stay is its own connection: its interval is closed, and where
the webhooks delivered the same stay the two intervals overlap and count once (merged), and a
webhook join whose leave Zoom never delivered is left to the report stay that holds it
(``domain.credits``; a stay of another instance never does).

A row whose ``status`` is ``in_waiting_room`` is time spent waiting to be admitted, not
attendance: it is left out (counted in :attr:`ReadRows.waiting`).

Emails Zoom hides (privacy settings, guests) come empty or masked (``j***@…``): such a row is
matched by its ``registrant_id`` or stays unmatched, never by a guessed address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schedules.clock import utcnow
from tracker.domain import limits
from tracker.domain.attendance import NewEvent
from tracker.domain.bounds import event_time_problem

SOURCE = "report"
#: The ``status`` of a row that is time spent in the waiting room (``in_meeting`` otherwise).
WAITING = "in_waiting_room"
#: What is kept of a row as the fact's raw payload (``name`` is what organisers see of an
#: unmatched guest).
_KEPT = (
    "name",
    "user_email",
    "registrant_id",
    "user_id",
    "join_time",
    "leave_time",
    "duration",
    "status",
)


@dataclass
class ReadRows:
    events: list[NewEvent] = field(default_factory=list)
    rows: int = 0
    #: Row numbers (from 1) and why they could not be read.
    bad: list[tuple[int, str]] = field(default_factory=list)
    #: Rows read but not attendance: time in the waiting room (``status`` ``in_waiting_room``).
    waiting: int = 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    # the window only: a time in the future is said by its field below
    return None if event_time_problem(parsed, now=None) else parsed.astimezone(UTC)


def _text(value: Any, max_length: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    text = str(value)
    return text if len(text) <= max_length and text.isprintable() else None


def _email(value: Any) -> str | None:
    """The address if Zoom gave one (not empty, not masked with ``*``)."""
    text = _text(value, limits.EMAIL)
    if text is None or "@" not in text or "*" in text:
        return None
    return text.strip().lower()


def _key(*parts: object) -> str:
    joined = "|".join(str(p) for p in parts)
    if len(joined) <= limits.EXTERNAL_ID - 6 and joined.isprintable():
        return joined
    return "sha256:" + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def participant_events(
    rows: Iterable[Mapping[str, Any]],
    *,
    webinar_id: str,
    instance: str,
    occurrence_id: int,
    now: datetime | None = None,
) -> ReadRows:
    """The join and leave facts of every readable row (``occurrence_id``: the session whose
    instance this is, so the facts match it whatever their times). A row dated later than
    ``now`` (the service's clock, read here by default) allows is a bad row: Zoom reports
    sessions that have ended."""
    now = now or utcnow()
    result = ReadRows()
    for number, row in enumerate(rows, 1):
        result.rows += 1
        if row.get("status") == WAITING:  # waiting to be admitted is not attending
            result.waiting += 1
            continue
        join = _time(row.get("join_time"))
        leave = _time(row.get("leave_time"))
        duration = row.get("duration")
        if join is not None and leave is None and isinstance(duration, int | float):
            leave = join + timedelta(seconds=max(0, int(duration)))
        if join is None or leave is None:
            result.bad.append((number, "no readable join_time and leave_time"))
            continue
        if leave < join:
            result.bad.append((number, "leave_time is before join_time"))
            continue
        future = event_time_problem(leave, now=now)
        if future:
            result.bad.append((number, f"leave_time {future}"))
            continue
        email = _email(row.get("user_email"))
        registrant = _text(row.get("registrant_id"), limits.ZOOM_REGISTRANT_ID)
        who = (
            _text(row.get("user_id"), limits.CONNECTION_ID)
            or _text(row.get("participant_user_id"), limits.CONNECTION_ID)
            or _text(row.get("id"), limits.CONNECTION_ID)
            or registrant
            or email
            or _text(row.get("name"), limits.PERSON_NAME * 2)
            or f"row{number}"
        )
        key = _key(webinar_id, instance, who, join.isoformat(), leave.isoformat())
        connection = (
            "report:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        )
        payload: dict[str, Any] = {k: row.get(k) for k in _KEPT if k in row}
        payload["instance"] = instance
        for kind, at in (("join", join), ("leave", leave)):
            result.events.append(
                NewEvent(
                    source=SOURCE,
                    external_id=f"{key}|{kind}",
                    kind=kind,
                    at=at,
                    payload=payload,
                    email=email,
                    connection_id=connection,
                    zoom_webinar_id=webinar_id,
                    requested_occurrence_id=occurrence_id,
                    registrant_id=registrant,
                )
            )
    return result
