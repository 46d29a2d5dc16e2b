"""The organiser pages the console's gaps touched (2026-12-07): what their changes cost.

Builds a fresh database (SQLite, or PostgreSQL with --pg): a daily series of --sessions sessions
in Europe/Paris, one physician with a final award and a certificate at every session, signs an
organiser in, serves the real app in this process and times, by the process's CPU time (server
and client share it; the wall clock is noisy on this machine), the median of --repeat requests:

- baseline: ``GET /api/physicians/{id}/credits`` (the same awards as JSON, no page);
- physician page: ``/organizer/physicians/{id}`` (now with each session's certificate and its
  revoke button: one more query);
- series page: ``/organizer/series/{id}`` (five weeks back), and the same with ``from``/``to``
  over the whole series (now read in the series' timezone).

Run it on this tree and on an older one (``PYTHONPATH=old-tree``) to compare ratios.

    .venv/bin/python bench/organiser_pages.py --sessions 300 --repeat 15
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlmodel import select

sys.path.insert(0, os.environ.get("BENCH_TREE") or str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from schedules.models import Occurrence
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Award, Certificate
from tracker.migrate import upgrade
from tracker.services import web_sessions
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def _cpu_median(repeat: int, work: Callable[[], Awaitable[None]]) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        await work()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


async def run(engine: str, sessions: int, repeat: int, port: int) -> None:
    async with database_url(engine) as url:
        await upgrade(url)
        database = Database(url)
        organizer, token = await create_organizer(database, name="Bench", email="b@x.org")
        raw = await web_sessions.sign_in(database, organizer)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only argument
            database_url=url,
            scheduler="off",
        )
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        auth = {"Authorization": f"Bearer {token}"}
        first = NOW - timedelta(days=sessions + 1)
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                made = await http.post(
                    "/api/series",
                    headers=auth,
                    json={
                        "title": "Bench",
                        "timezone": "Europe/Paris",
                        "start": first.strftime("%Y-%m-%dT00:30:00"),
                        "duration_minutes": 60,
                        "rrule": f"FREQ=DAILY;COUNT={sessions}",
                        "join_url": "https://zoom.us/j/81234567890",
                    },
                )
                assert made.status == 201, await made.text()
                series = await made.json()
                made = await http.post(
                    "/api/physicians",
                    headers=auth,
                    json={"first_name": "J", "last_name": "D", "email": "j@example.org"},
                )
                physician = await made.json()
                async with database.session() as session:
                    ids = (
                        await session.exec(
                            select(Occurrence.id).where(Occurrence.series_id == series["id"])
                        )
                    ).all()
                    for number, occurrence_id in enumerate(ids):
                        assert occurrence_id is not None
                        session.add(
                            Award(
                                occurrence_id=occurrence_id,
                                physician_id=physician["id"],
                                seconds=3600,
                                credits={"AMA_PRA_1": 1.0},
                                final=True,
                            )
                        )
                        session.add(
                            Certificate(
                                code=f"BENCH{number:05d}",
                                occurrence_id=occurrence_id,
                                physician_id=physician["id"],
                                minutes=60,
                                credits={"AMA_PRA_1": 1.0},
                            )
                        )
                    await session.commit()
                page = {"Cookie": f"tracker_session={raw}", "Accept": "text/html"}

                def get(path: str, headers: dict[str, str]) -> Callable[[], Awaitable[None]]:
                    async def work() -> None:
                        async with http.get(path, headers=headers) as response:
                            assert response.status == 200, await response.text()
                            await response.read()

                    return work

                last = (NOW - timedelta(days=1)).date().isoformat()
                cases = [
                    ("physician page", get(f"/organizer/physicians/{physician['id']}", page)),
                    ("series page", get(f"/organizer/series/{series['id']}", page)),
                    (
                        "series page, from/to",
                        get(
                            f"/organizer/series/{series['id']}?from={first.date()}&to={last}",
                            page,
                        ),
                    ),
                ]
                credits = get(f"/api/physicians/{physician['id']}/credits", auth)
                await credits()  # settle and warm up
                for _, work in cases:
                    await work()
                baseline = await _cpu_median(repeat, credits)
                print(f"{engine}: {sessions} sessions and certificates, CPU median of {repeat}")
                print(f"  credits JSON (baseline)   {baseline:8.1f} ms")
                for name, work in cases:
                    spent = await _cpu_median(repeat, work)
                    print(f"  {name:<25} {spent:8.1f} ms  {spent / baseline:5.2f}x")
        finally:
            await runner.cleanup()
            await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--port", type=int, default=8093)
    args = parser.parse_args()
    asyncio.run(run("postgresql" if args.pg else "sqlite", args.sessions, args.repeat, args.port))


if __name__ == "__main__":
    main()
