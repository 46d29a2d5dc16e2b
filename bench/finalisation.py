"""Finalising one session's credits, next to one plain SELECT of the same session's events.

Builds a fresh database (SQLite file, and PostgreSQL with --pg) holding one ended session with
N attendees (a join and a leave each), then times, in the same run:

- the baseline: one ``SELECT physician_id, kind, at, connection_id`` of that session's events,
  all rows fetched (the least any finalisation must read);
- the finalisation: the claim and every award made final, batch by batch
  (:func:`tracker.services.finalisation.finalize`).

It prints both (wall clock, and this process's CPU time: on SQLite the database's work is in
it, on PostgreSQL the server's is not) and their ratios, for each size, so that growth with
attendance shows (a linear finalisation keeps the ratio flat). With ``--provisional``, every award is first computed
provisional (as attendance recording leaves them in service), so that finalisation turns
existing rows final instead of inserting them.

    .venv/bin/python bench/finalisation.py --sizes 1000 4000 --pg
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from tests.factories import ended_session
from tracker.db import Database
from tracker.domain.awards import recompute_occurrence
from tracker.migrate import upgrade
from tracker.services.finalisation import finalize

GRACE = timedelta(minutes=90)


Timing = tuple[float, float]  # wall clock, CPU time of this process (seconds)


async def _plain_select(database: Database, occurrence_id: int) -> Timing:
    query = text(
        "SELECT physician_id, kind, at, connection_id FROM attendance_event "
        "WHERE occurrence_id = :occurrence"
    )
    best, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        async with database.session() as session:
            connection = await session.connection()
            began, cpu = time.perf_counter(), time.process_time()
            rows = (await connection.execute(query, {"occurrence": occurrence_id})).all()
            best = min(best, time.perf_counter() - began)
            best_cpu = min(best_cpu, time.process_time() - cpu)
    assert rows
    return best, best_cpu


async def _measure(url: str, attendees: int, *, provisional: bool) -> tuple[Timing, Timing]:
    await upgrade(url)
    database = Database(url)
    try:
        now = datetime.now(UTC)
        occurrence = await ended_session(database, attendees, ended=now - GRACE * 2)
        if provisional:
            async with database.session() as session:
                await recompute_occurrence(session, occurrence, now=now)
                await session.commit()
        baseline = await _plain_select(database, occurrence)
        began, cpu = time.perf_counter(), time.process_time()
        assert await finalize(database, occurrence, now=now, grace=GRACE)
        return baseline, (time.perf_counter() - began, time.process_time() - cpu)
    finally:
        await database.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL at 127.0.0.1")
    parser.add_argument(
        "--provisional", action="store_true", help="awards exist, provisional, beforehand"
    )
    args = parser.parse_args()
    print(
        f"{'engine':10} {'attendees':>9} {'SELECT':>9} {'finalise':>9} {'ratio':>6}"
        f" {'CPU SELECT':>10} {'CPU final':>9} {'ratio':>6}"
    )
    for attendees in args.sizes:
        results = []
        for engine in ("sqlite", "postgresql") if args.pg else ("sqlite",):
            async with database_url(engine) as url:
                results.append(
                    (engine, await _measure(url, attendees, provisional=args.provisional))
                )
        for engine, ((baseline, baseline_cpu), (took, took_cpu)) in results:
            print(
                f"{engine:10} {attendees:9d} {baseline * 1000:7.1f}ms {took * 1000:7.0f}ms "
                f"{took / baseline:5.1f}x {baseline_cpu * 1000:8.1f}ms {took_cpu * 1000:7.0f}ms "
                f"{took_cpu / baseline_cpu:5.1f}x"
            )


if __name__ == "__main__":
    asyncio.run(main())
