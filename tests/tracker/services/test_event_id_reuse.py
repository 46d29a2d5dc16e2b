"""An event's id names one fact. The same id sent again with the same fact is a harmless
duplicate (a retry); with another fact (another kind, time, person or session) it is a
conflict: the stored fact stands, the new one is not stored, and the sender is told, on every
path that records attendance (the API batch, the Zoom webhook, the Zoom report)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from tests.factories import create_physician, create_series, occurrences
from tests.tracker.services.test_ingestion import (
    STORM_WEBINAR,
    _deliver,
    participant,
    zoom_client,
)
from tracker.adapters.zoom_report import Stay, stay_events
from tracker.db import Database
from tracker.domain.models import AttendanceEvent
from tracker.services.ingestion import record

__all__ = ["zoom_client"]  # the fixture, shared with the ingestion tests

START = datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
DURING = datetime(2026, 11, 2, 12, 45, tzinfo=UTC)


async def _world(client: TestClient, auth: dict[str, str]) -> tuple[int, int]:
    series = await create_series(
        client,
        auth,
        timezone="UTC",
        start=START.replace(tzinfo=None).isoformat(),
        rrule=None,
        zoom_webinar_id=STORM_WEBINAR,
    )
    (occurrence,) = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(client, auth)
    return occurrence["id"], jeanne["id"]


def _event(event_id: str, kind: str, at: str, occurrence: int, **who: Any) -> dict[str, Any]:
    return {"event_id": event_id, "kind": kind, "at": at, "occurrence_id": occurrence, **who}


async def _post(
    client: TestClient, auth: dict[str, str], events: list[dict[str, Any]]
) -> tuple[int, Any]:
    with time_machine.travel(DURING, tick=True):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
    return response.status, await response.json()


async def _stored(database: Database) -> list[tuple[str, str, datetime]]:
    async with database.session() as session:
        rows = await session.exec(
            select(AttendanceEvent).order_by(col(AttendanceEvent.external_id))
        )
        return [(e.external_id, e.kind, e.at) for e in rows.all()]


async def test_api_event_id_sent_again_with_another_fact_is_409_and_keeps_the_stored_fact(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    occurrence, jeanne = await _world(client, auth)
    joined = _event("e1", "join", "2026-11-02T11:30:00Z", occurrence, physician_id=jeanne)
    left = _event("e1", "leave", "2026-11-02T12:15:00Z", occurrence, physician_id=jeanne)
    other = _event("e2", "join", "2026-11-02T11:40:00Z", occurrence, physician_id=jeanne)

    first = await _post(client, auth, [joined])
    status, problem = await _post(client, auth, [other, left])

    assert first == (202, {"accepted": 1, "duplicates": 0, "unmatched": 0})
    assert status == 409
    assert problem["errors"] == [
        {
            "field": "1.event_id",
            "message": "event_id 'e1' is already stored with another kind, time, person or "
            "session; this event was not stored (give it its own event_id)",
        }
    ]
    assert problem["detail"] == (
        "1 event(s) reuse an event_id already stored with other details and were not stored; "
        "of the others, 1 were recorded (0 unmatched) and 0 were already known"
    )
    assert await _stored(database) == [
        ("e1", "join", datetime(2026, 11, 2, 11, 30, tzinfo=UTC)),
        ("e2", "join", datetime(2026, 11, 2, 11, 40, tzinfo=UTC)),
    ]


async def test_api_event_id_given_twice_in_one_batch_with_two_facts_stores_the_first(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    occurrence, jeanne = await _world(client, auth)
    batch = [
        _event("e1", "join", "2026-11-02T11:30:00Z", occurrence, physician_id=jeanne),
        _event("e1", "join", "2026-11-02T11:30:00Z", occurrence, physician_id=jeanne),
        _event("e1", "join", "2026-11-02T11:31:00Z", occurrence, physician_id=jeanne),
    ]

    status, problem = await _post(client, auth, batch)
    again_status, again = await _post(client, auth, batch[:2])

    assert status == 409
    assert [e["field"] for e in problem["errors"]] == ["2.event_id"]
    assert "1 were recorded (0 unmatched) and 1 were already known" in problem["detail"]
    assert (again_status, again) == (202, {"accepted": 0, "duplicates": 2, "unmatched": 0})
    assert await _stored(database) == [("e1", "join", datetime(2026, 11, 2, 11, 30, tzinfo=UTC))]


@pytest.mark.parametrize(
    ("at", "email"),
    [
        ("2026-11-02T12:30:00+01:00", "jeanne.durand@example.org"),  # the same instant
        ("2026-11-02T11:30:00Z", "  JEANNE.Durand@Example.org "),  # the same address
    ],
)
async def test_api_retry_spelling_the_same_fact_differently_is_a_duplicate(
    client: TestClient, auth: dict[str, str], at: str, email: str
) -> None:
    occurrence, _ = await _world(client, auth)
    first = _event("e1", "join", "2026-11-02T11:30:00Z", occurrence, email=email.strip().lower())

    await _post(client, auth, [first])
    again = await _post(client, auth, [_event("e1", "join", at, occurrence, email=email)])

    assert again == (202, {"accepted": 0, "duplicates": 1, "unmatched": 0})


async def test_api_event_id_reused_for_another_session_or_person_is_409(
    client: TestClient, auth: dict[str, str]
) -> None:
    occurrence, jeanne = await _world(client, auth)
    paul = await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
    )
    stored = _event("e1", "join", "2026-11-02T11:30:00Z", occurrence, physician_id=jeanne)
    await _post(client, auth, [stored])

    by_paul = await _post(client, auth, [{**stored, "physician_id": paul["id"]}])
    elsewhere = await _post(client, auth, [{**stored, "occurrence_id": occurrence + 1000}])

    assert (by_paul[0], elsewhere[0]) == (409, 409)


async def test_zoom_event_with_a_stored_id_and_another_address_answers_conflict_and_logs_it(
    zoom_client: TestClient,
    auth: dict[str, str],
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Zoom's id of a participant's event is its instance, connection and time; a second event
    with those and another address keeps the first (Zoom must not retry it: 200)."""
    await _world(zoom_client, auth)
    at = START + timedelta(minutes=2)
    first = participant(STORM_WEBINAR, True, "jeanne.durand@example.org", "c1", at)
    changed = participant(STORM_WEBINAR, True, "someone.else@example.org", "c1", at)

    with time_machine.travel(DURING, tick=True), caplog.at_level(logging.WARNING):
        statuses = [await _deliver(zoom_client, p) for p in (first, first, changed)]

    assert statuses == ["accepted", "duplicate", "conflict"]
    assert [r.getMessage()[:60] for r in caplog.records if "stored one" in r.getMessage()] == [
        "a Zoom event has the id of a stored event with other details"
    ]
    async with database.session() as session:
        emails = (await session.exec(select(AttendanceEvent.email))).all()
    assert emails == ["jeanne.durand@example.org"]


async def test_report_stays_recorded_twice_are_duplicates_and_a_changed_fact_a_conflict(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """The report's ids come from the stay itself; the recorded counts tell the three apart."""
    series = await create_series(
        client, auth, timezone="UTC", start=START.replace(tzinfo=None).isoformat(), rrule=None
    )
    stay = Stay(
        line=2,
        name="Jeanne Durand",
        email="jeanne.durand@example.org",
        join=START,
        leave=START + timedelta(minutes=40),
    )
    events = stay_events(stay, series_id=series["id"])
    changed = [
        type(e)(**{**vars(e), "connection_id": "another"}) for e in events
    ]  # the same ids, another connection

    first = await record(database, events)
    again = await record(database, events)
    conflicting = await record(database, changed)

    assert (first.accepted, first.duplicates, first.conflicts) == (2, 0, 0)
    assert (again.accepted, again.duplicates, again.conflicts) == (0, 2, 0)
    assert (conflicting.accepted, conflicting.duplicates, conflicting.conflicts) == (0, 0, 2)
    assert conflicting.statuses == ["conflict", "conflict"]
