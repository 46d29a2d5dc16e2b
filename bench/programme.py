"""The final credits of a whole programme: 26 weekly sessions of 42,000 attendees, about three
million attendance events, next to one plain SELECT of those events through the same driver.

Builds a fresh database (a SQLite file; PostgreSQL at 127.0.0.1 with --pg) holding one weekly
series of --sessions ended sessions and --attendees physicians who attended every one: 60 % in
one stay (a join and a leave), 40 % in two (they dropped and came back), some leaving early, so
that about 2.8 events per attendee and session, then times, in the same run:

- the finalisation of every session, one after the other, as the planner runs it
  (:func:`tracker.services.finalisation.finalize`: claim, every award computed and made final
  batch by batch), with this process's peak resident memory after it;
- the baseline: one ``SELECT physician_id, kind, at, connection_id`` of all those events, every
  row fetched (the least any finalisation must read).

It prints both and their ratio (the goal is within 3x), and checks the awards: one final award
per attendee and session.

    .venv/bin/python bench/programme.py                   # SQLite (make bench)
    .venv/bin/python bench/programme.py --pg              # PostgreSQL (make bench-pg)
    .venv/bin/python bench/programme.py --attendees 4000  # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, text
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from schedules.occurrences import list_occurrences
from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tracker.db import Database
from tracker.domain.models import AttendanceEvent, Award, Physician
from tracker.migrate import upgrade
from tracker.services.finalisation import finalize

GRACE = timedelta(minutes=90)
#: Rows per INSERT while building the world.
CHUNK = 5000


def _stays(n: int, start: datetime) -> list[tuple[datetime, datetime]]:
    """Attendee ``n``'s stays in a one-hour session starting at ``start``."""
    late = timedelta(minutes=n % 7)
    if n % 5 < 3:  # 60 %: one stay; every tenth of them leaves after 20 minutes
        length = timedelta(minutes=20) if n % 10 == 0 else timedelta(minutes=58)
        return [(start + late, start + late + length)]
    return [  # 40 %: dropped for a few minutes, then came back
        (start + late, start + timedelta(minutes=25)),
        (start + timedelta(minutes=27 + n % 4), start + timedelta(minutes=60)),
    ]


async def _world(database: Database, sessions: int, attendees: int) -> tuple[list[int], int]:
    """The series, its physicians and their events; returns the occurrence ids and how many
    events were stored."""
    first = (datetime.now(UTC) - timedelta(weeks=sessions + 1)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    data = SeriesCreate.model_validate(
        {
            "title": "Programme",
            "timezone": "UTC",
            "start": first.replace(tzinfo=None).isoformat(),
            "duration_minutes": 60,
            "rrule": f"FREQ=WEEKLY;COUNT={sessions}",
            "join_url": "https://zoom.us/j/1",
            "credits": [{"type": "AMA_PRA_1", "max": 1}],
            "min_attendance_percent": 50,
        }
    )
    async with database.session() as session:
        series = await create_series(session, data, credit_types=["AMA_PRA_1"], now=first)
        await session.commit()
        occurrences = await list_occurrences(session, series.id or 0)
        physicians = [
            Physician(
                first_name="Ana",
                last_name=f"Programme {n:05d}",
                email=f"p{n}@example.org",
                token_hash=f"{n:064d}",
            ).model_dump(exclude={"id"})
            for n in range(attendees)
        ]
        for at in range(0, attendees, CHUNK):
            await session.exec(insert(Physician), params=physicians[at : at + CHUNK])
        await session.commit()
        ids = [i for i in (await session.exec(select(Physician.id))).all() if i is not None]
    stored = 0
    for occurrence in occurrences:
        events: list[dict[str, Any]] = []
        for n, physician_id in enumerate(ids):
            for stay, (joined, left) in enumerate(_stays(n, occurrence.start)):
                for kind, at in (("join", joined), ("leave", left)):
                    events.append(
                        {
                            "source": "api",
                            "external_id": f"{occurrence.id}-{physician_id}-{stay}-{kind}",
                            "kind": kind,
                            "at": at,
                            "connection_id": f"{physician_id}-{stay}",
                            "series_id": series.id,
                            "occurrence_id": occurrence.id,
                            "physician_id": physician_id,
                            "payload": {},
                            "received_at": at,
                        }
                    )
        async with database.session() as session:
            for at in range(0, len(events), CHUNK):
                await session.exec(insert(AttendanceEvent), params=events[at : at + CHUNK])
            await session.commit()
        stored += len(events)
    return [o.id or 0 for o in occurrences], stored


async def _plain_select(database: Database, occurrence_ids: list[int]) -> tuple[float, int]:
    query = text(
        "SELECT physician_id, kind, at, connection_id FROM attendance_event "
        f"WHERE occurrence_id IN ({', '.join(str(i) for i in occurrence_ids)})"
    )
    async with database.session() as session:
        connection = await session.connection()
        began = time.perf_counter()
        rows = (await connection.execute(query)).all()
        return time.perf_counter() - began, len(rows)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _run(engine: str, args: argparse.Namespace) -> None:
    async with database_url(engine) as url:
        await upgrade(url)
        database = Database(url)
        try:
            began = time.perf_counter()
            occurrence_ids, stored = await _world(database, args.sessions, args.attendees)
            built = time.perf_counter() - began
            print(
                f"{engine}: {args.sessions} sessions x {args.attendees} attendees, {stored:,} "
                f"events (built in {built:.0f} s), {datetime.now(UTC):%Y-%m-%d}, load average "
                f"{os.getloadavg()[0]:.1f}; memory before: {_peak_mib():.0f} MiB peak"
            )
            now = datetime.now(UTC)
            began = time.perf_counter()
            for occurrence_id in occurrence_ids:
                assert await finalize(database, occurrence_id, now=now, grace=GRACE)
            finalised = time.perf_counter() - began
            peak = _peak_mib()
            async with database.session() as session:
                final = (
                    await session.exec(
                        select(func.count()).where(col(Award.finalized_at).is_not(None))
                    )
                ).one()
            assert final == args.sessions * args.attendees, f"{final} final awards"
            baseline, rows = await _plain_select(database, occurrence_ids)
            assert rows == stored
            print(
                f"  SELECT of every event  {baseline:8.2f} s\n"
                f"  finalise every session {finalised:8.2f} s  {finalised / baseline:5.1f}x the "
                f"SELECT (goal 3x); {final:,} final awards; peak memory {peak:.0f} MiB"
            )
        finally:
            await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=26)
    parser.add_argument("--attendees", type=int, default=42_000)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL at 127.0.0.1")
    args = parser.parse_args()
    asyncio.run(_run("postgresql" if args.pg else "sqlite", args))


if __name__ == "__main__":
    main()
