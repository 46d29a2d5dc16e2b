"""The physician list of a 42,000-physician programme, a page at a time (issue 9 point 3).

Builds a fresh database (SQLite, or PostgreSQL with --pg) holding --physicians physicians, serves
the real app, and times (median of --repeat sequential requests):

- whole list (baseline): what ``GET /api/physicians`` did before pagination, in this process:
  every row selected through the same driver and serialised as JSON;
- first page: ``GET /api/physicians`` (50 rows);
- last page: the same with the cursor of the 50 rows before the end;
- search common: ``?q=durand``, which one physician in eight matches (the scan stops at 51);
- search one: ``?q=`` the name of one physician near the end, in capitals without accents, and
  search miss: a name nobody has (both scan and fold the whole table).

It prints each time and its ratio to the baseline, and each answer's size.

    .venv/bin/python bench/list_pages.py --physicians 42000 --repeat 15 --pg
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import TypeAdapter
from sqlalchemy import insert
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.domain.organizers import create_organizer
from tracker.domain.schemas import PhysicianPublic
from tracker.domain.tokens import hash_token
from tracker.http.paging import encode_cursor
from tracker.migrate import upgrade
from tracker.settings import Settings

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FIRST = ["Jeanne", "Paul", "Hélène", "Chloé", "Marc", "Zoé", "Jean", "Anne"]
LAST = ["Durand", "Martin", "Lefèvre", "Simon", "Müller", "Bernard", "Petit", "Roux"]


def _row(index: int) -> dict[str, Any]:
    return {
        "first_name": FIRST[index % len(FIRST)],
        "last_name": f"{LAST[index % len(LAST)]}{index}",
        "email": f"physician{index}@example.org",
        "timezone": "Europe/Paris",
        "language": "fr",
        "npi": None,
        "rpps": f"{10_000_000_000 + index}",
        "board_ids": {},
        "consent_board_reporting": True,
        "token_hash": hash_token(f"phy_bench_{index}"),
        "created_at": NOW,
        "updated_at": NOW,
    }


async def _fill(database: Database, count: int) -> None:
    async with database.session() as session:
        for start in range(0, count, 5000):
            rows = [_row(i) for i in range(start, min(count, start + 5000))]
            await session.exec(insert(Physician), params=rows)
        await session.commit()


async def _whole_list(database: Database) -> int:
    """The route's work before pagination: every physician, serialised."""
    async with database.session() as session:
        rows = (await session.exec(select(Physician).order_by(Physician.id))).all()
    adapter = TypeAdapter(list[PhysicianPublic])
    body = adapter.dump_json(
        [PhysicianPublic.model_validate(row, from_attributes=True) for row in rows]
    )
    return len(body)


async def _median(repeat: int, work: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = await work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, size


async def run(engine: str, physicians: int, repeat: int, port: int) -> None:
    async with database_url(engine) as url:
        await upgrade(url)
        database = Database(url)
        async with database.session() as session:
            _organizer, token = await create_organizer(session, name="Bench", email="b@x.org")
        await _fill(database, physicians)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only argument
            database_url=url,
            scheduler="off",
        )
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with database.session() as session:
            ids = (await session.exec(select(Physician.id).order_by(Physician.id))).all()
        last_cursor = encode_cursor("physicians", "after", (ids[-51],))
        rare = _row(physicians - 3)["last_name"].replace("è", "e").replace("ü", "u").upper()
        try:
            async with aiohttp.ClientSession(
                f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            ) as http:

                def get(**params: str) -> Callable[[], Awaitable[int]]:
                    async def work() -> int:
                        async with http.get("/api/physicians", params=params) as response:
                            assert response.status == 200, await response.text()
                            return len(await response.read())

                    return work

                baseline, whole_size = await _median(repeat, lambda: _whole_list(database))
                cases = [
                    ("first page", get()),
                    ("last page", get(cursor=last_cursor)),
                    ("search common (durand)", get(q="durand")),
                    (f"search one ({rare})", get(q=rare)),
                    ("search miss", get(q="nobody-has-this-name")),
                ]
                print(f"{engine}: {physicians:,} physicians, median of {repeat}")
                print(f"  whole list (baseline)     {baseline:8.1f} ms  {whole_size:>10,} bytes")
                for name, work in cases:
                    took, size = await _median(repeat, work)
                    print(
                        f"  {name:<26}{took:8.1f} ms  {size:>10,} bytes"
                        f"  {took / baseline:6.3f}x the baseline"
                    )
        finally:
            await runner.cleanup()
            await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--physicians", type=int, default=42_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--port", type=int, default=18093)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    asyncio.run(run("postgresql" if args.pg else "sqlite", args.physicians, args.repeat, args.port))


if __name__ == "__main__":
    main()
