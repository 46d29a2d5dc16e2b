"""A physician's calendar feed under load, next to a bare aiohttp handler serving the same bytes.

Builds a fresh database (SQLite, or PostgreSQL with --pg) with a physician registered to
--series weekly series, serves the real app and a bare handler that returns the same feed bytes
from memory, and hits each with --connections concurrent clients for --seconds:

- bare: the bare handler (the ceiling for this machine, client and payload);
- feed 200: ``GET /feeds/{token}.ics`` without validators (after the first, from the cache);
- feed 304: the same with ``If-None-Match`` (answered from the stored version).

Each of the three runs ``--rounds`` times in turn (the machine's speed drifts between runs);
the figure is the median of the rounds' ratios to the bare rate of the same round. Goals
(issue 16): feed 200 at 30 % of bare, feed 304 at 80 %.

It prints requests per second and p99 latency of each, and the feed's ratio to the bare rate.

    .venv/bin/python bench/personal_feed.py --series 8 --connections 64 --seconds 5 --pg
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from tests.factories import physician_body, series_body
from tracker.app import create_app
from tracker.db import Database
from tracker.migrate import upgrade
from tracker.services.organizers import create_organizer
from tracker.settings import Settings


async def _prepare(url: str, series: int, port: int) -> tuple[web.AppRunner, str, bytes]:
    await upgrade(url)
    database = Database(url)
    _organizer, token = await create_organizer(database, name="Bench", email="b@example.org")
    await database.close()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only argument
        database_url=url,
        scheduler="off",
        base_url="https://cme.example.org",
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(base, headers=auth) as http:
        physician = await (await http.post("/api/physicians", json=physician_body())).json()
        for n in range(series):
            body = series_body(title=f"Série {n}", rrule="FREQ=WEEKLY;BYDAY=MO")
            created = await (await http.post("/api/series", json=body)).json()
            registration = {"physician_id": physician["id"]}
            await http.post(f"/api/series/{created['id']}/registrations", json=registration)
        feed = f"{base}/feeds/{physician['token']}.ics"
        payload = await (await http.get(feed)).read()
    return runner, feed, payload


@dataclass(frozen=True)
class Load:
    rate: float  # requests per second
    p99_ms: float
    statuses: list[int]


async def _load(url: str, seconds: float, connections: int, headers: dict[str, str]) -> Load:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    statuses: set[int] = set()

    async def client(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            async with http.get(url, headers=headers) as response:
                await response.read()
                statuses.add(response.status)
            latencies.append(time.perf_counter() - began)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(connections)))
        took = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return Load(len(latencies) / took, p99, sorted(statuses))


async def _bare(payload: bytes, port: int) -> web.AppRunner:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="text/calendar", charset="utf-8")

    app = web.Application()
    app.router.add_get("/bare.ics", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _run(url: str, args: Any) -> None:
    runner, feed, payload = await _prepare(url, args.series, 8301)
    bare = await _bare(payload, 8302)
    rounds: list[dict[str, Load]] = []
    try:
        etag = await _fetch_etag(feed)
        await _fetch_etag(feed)  # the first validation reads the stored version (then remembered)
        for _ in range(args.rounds):  # alternated: the machine's speed drifts between runs
            rounds.append(
                {
                    "bare": await _load(
                        "http://127.0.0.1:8302/bare.ics", args.seconds, args.connections, {}
                    ),
                    "feed 200": await _load(feed, args.seconds, args.connections, {}),
                    "feed 304": await _load(
                        feed, args.seconds, args.connections, {"If-None-Match": etag}
                    ),
                }
            )
    finally:
        await runner.cleanup()
        await bare.cleanup()
    print(f"{url.split(':')[0]}: feed of {len(payload):,} bytes, {args.series} series")
    for number, results in enumerate(rounds, 1):
        baseline = results["bare"].rate
        for name, load in results.items():
            print(
                f"  round {number} {name:9} {load.rate:9.0f} req/s  p99 {load.p99_ms:7.1f} ms  "
                f"status {load.statuses}  {load.rate / baseline:6.2f}x bare"
            )
    for name in ("feed 200", "feed 304"):
        shares = sorted(results[name].rate / results["bare"].rate for results in rounds)
        print(f"  {name}: median {statistics.median(shares):.2f}x bare over {len(rounds)} rounds")


async def _fetch_etag(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.headers["ETag"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="bare, 200 and 304 in turn")
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL at 127.0.0.1")
    args = parser.parse_args()
    for engine in ("sqlite", "postgresql") if args.pg else ("sqlite",):
        async with database_url(engine) as url:
            await _run(url, args)


if __name__ == "__main__":
    asyncio.run(main())
