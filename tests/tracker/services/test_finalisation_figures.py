"""Finalisation writes, for every attendee, the credits and the receipt that the reference rules
give for the same events (issue 16 point 2): ``explain``, ``credits_for`` and ``complete``
over the attendee's facts and the platform's end events, whatever the order the events were
stored in, how the batches split the attendees, and whether provisional awards existed."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, update
from sqlmodel import col, select

from schedules.models import Occurrence, Series
from tests.factories import ended_session
from tracker.db import Database
from tracker.domain.awards import recompute_occurrence
from tracker.domain.credits import Attendance, Fact, credits_for
from tracker.domain.models import AttendanceEvent, Award
from tracker.domain.receipts import complete, explain, iso, terms
from tracker.services.finalisation import Lease, claim, finalize_awards

GRACE = timedelta(minutes=90)
NOW = datetime(2026, 11, 2, 16, 0, 0, tzinfo=UTC)
SOURCES = ["api", "zoom", "zoom_report"]


def _stays(rng: random.Random, start: datetime) -> list[tuple[str, datetime, str | None, str]]:
    """One attendee's facts: one stay mostly; else several connections that overlap, rejoins,
    lost leaves, stray leaves, facts before or after the session, report stays."""

    def at() -> datetime:
        return start + timedelta(
            seconds=rng.randint(-1200, 4800),
            microseconds=rng.choice([0, 0, rng.randint(0, 999_999)]),
        )

    shape = rng.random()
    source = rng.choice(SOURCES)
    if shape < 0.5:  # one stay, as most attendees have
        a, b = sorted((at(), at()))
        return [("join", a, "c0", source), ("leave", b, "c0", rng.choice([source, "api"]))]
    facts: list[tuple[str, datetime, str | None, str]] = []
    for connection in rng.sample([None, "c1", "c2", "c3"], rng.randint(1, 3)):
        for _ in range(rng.randint(1, 3)):
            a, b = sorted((at(), at()))
            facts.append(("join", a, connection, rng.choice(SOURCES)))
            if rng.random() < 0.8:  # else the leave was lost
                facts.append(("leave", b, connection, rng.choice(SOURCES)))
    if rng.random() < 0.2:
        facts.append(("leave", at(), rng.choice([None, "c1"]), "api"))  # without its join
    return facts


async def _random_session(database: Database, rng: random.Random, attendees: int) -> int:
    occurrence_id = await ended_session(database, attendees, ended=NOW - GRACE * 2)
    async with database.session() as session:
        occurrence = await session.get_one(Occurrence, occurrence_id)
        await session.exec(
            update(Series)
            .where(col(Series.id) == occurrence.series_id)
            .values(
                min_attendance_percent=rng.choice([None, 50.0]),
                credits=[{"type": "AMA_PRA_1", "max": 1}, {"type": "ABIM_MOC", "max": 0.75}],
            )
        )
        physicians = sorted(
            pid
            for pid in (
                await session.exec(
                    select(AttendanceEvent.physician_id).where(
                        AttendanceEvent.occurrence_id == occurrence_id
                    )
                )
            ).all()
            if pid is not None
        )
        await session.exec(delete(AttendanceEvent))
        events: list[dict[str, Any]] = []
        for physician_id in sorted(set(physicians)):
            for kind, at, connection, source in _stays(rng, occurrence.start):
                events.append(
                    {"physician_id": physician_id, "kind": kind, "at": at}
                    | {"connection_id": connection, "source": source}
                )
        for _ in range(rng.randint(0, 2)):  # the platform's end event(s)
            at = occurrence.start + timedelta(minutes=rng.randint(30, 80))
            events.append({"physician_id": None, "kind": "ended", "at": at, "source": "zoom"})
        rng.shuffle(events)  # stored in any order
        rows = [
            event
            | {
                "external_id": f"e{n}",
                "occurrence_id": occurrence_id,
                "series_id": occurrence.series_id,
                "received_at": event["at"],
                "payload": {},
            }
            for n, event in enumerate(events)
        ]
        for row in rows:
            row.setdefault("connection_id", None)
        await session.exec(insert(AttendanceEvent), params=rows)
        await session.commit()
    return occurrence_id


async def _reference(
    database: Database, occurrence_id: int
) -> dict[int, tuple[int, dict[str, float], list[str], dict[str, Any]]]:
    """Each attendee's figures and receipt from the reference rules, from the stored events."""
    async with database.session() as session:
        occurrence = await session.get_one(Occurrence, occurrence_id)
        series = await session.get_one(Series, occurrence.series_id)
        events = (
            await session.exec(
                select(AttendanceEvent).where(AttendanceEvent.occurrence_id == occurrence_id)
            )
        ).all()
    ended = [Fact("ended", e.at, source=e.source) for e in events if e.kind == "ended"]
    facts: dict[int, list[Fact]] = {}
    for e in events:
        if e.kind != "ended" and e.physician_id is not None:
            facts.setdefault(e.physician_id, []).append(
                Fact(e.kind, e.at, e.connection_id, e.source)  # type: ignore[arg-type]
            )
    shared = terms(
        duration_minutes=60,
        min_attendance_percent=series.min_attendance_percent,
        designations=series.credits,
        roundings={"AMA_PRA_1": "quarter", "ABIM_MOC": "quarter"},
    )
    expected = {}
    for physician_id, own in facts.items():
        in_another_order = list(reversed(own)) + ended
        attended, part = explain(in_another_order, start=occurrence.start, end=occurrence.end)
        credits = credits_for(
            Attendance(attended.seconds, attended.anomalies),
            duration_minutes=60,
            min_attendance_percent=series.min_attendance_percent,
            designations=series.credits,
            roundings={"AMA_PRA_1": "quarter", "ABIM_MOC": "quarter"},
        )
        receipt = complete(part, shared, credits=credits, computed_at=iso(NOW))
        expected[physician_id] = (attended.seconds, credits, list(attended.anomalies), receipt)
    return expected


async def _stored(
    database: Database, occurrence_id: int
) -> dict[int, tuple[int, dict[str, float], list[str], dict[str, Any]]]:
    async with database.session() as session:
        awards = (
            await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))
        ).all()
    assert all(a.final and a.finalized_at == NOW and a.computed_at == NOW for a in awards)
    return {a.physician_id: (a.seconds, a.credits, a.anomalies, a.receipt or {}) for a in awards}


@pytest.mark.parametrize("provisional", [False, True], ids=["fresh", "provisional first"])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_final_awards_match_the_reference_rules_on_random_sessions(
    database: Database, seed: int, provisional: bool
) -> None:
    rng = random.Random(seed)
    occurrence_id = await _random_session(database, rng, attendees=40)
    if provisional:  # as attendance recording leaves them, some with their figures so far
        async with database.session() as session:
            await recompute_occurrence(session, occurrence_id, now=NOW - GRACE - timedelta(hours=1))
            await session.commit()
    lease = Lease(owner="test")
    assert await claim(database, occurrence_id, now=NOW, grace=GRACE, lease=lease)

    assert await finalize_awards(database, occurrence_id, now=NOW, lease=lease, batch_size=7)

    expected = await _reference(database, occurrence_id)
    stored = await _stored(database, occurrence_id)
    assert stored.keys() == expected.keys()
    for physician_id, figures in expected.items():
        assert stored[physician_id] == figures, physician_id
        assert json.dumps(stored[physician_id][3]) == json.dumps(figures[3])
