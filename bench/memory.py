"""Resident memory of a ``tracker serve`` process holding 42,000 physicians, idle, while an
organiser pages through all of them, and under a join storm; next to a bare aiohttp process
measured the same way in the same run.

Builds a fresh database (a SQLite file; PostgreSQL at 127.0.0.1 with --pg) with --physicians
physicians and one running Zoom session (the world of ``bench/join_storm.py``), starts both
servers, and reads each process's resident set (``VmRSS`` in ``/proc``) and its peak
(``VmHWM``):

1. idle: once both answer ``/healthz``;
2. paging: after ``GET /api/physicians?limit=500`` page after page to the end (the service
   must hold one page, never the table);
3. storm: sampled every 50 ms while --storm joins and leaves are posted, and the peak after.

    .venv/bin/python bench/memory.py            # SQLite (make bench)
    .venv/bin/python bench/memory.py --pg       # PostgreSQL (make bench-pg)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from bench.join_storm import (
    _signed,
    _start_bare,
    _start_service,
    _stop,
    _storm,
    _storm_bodies,
    _until_healthy,
    _world,
    free_port,
)


def memory(pid: int) -> tuple[float, float]:
    """(resident, peak resident) of a process in MiB (Linux ``/proc``)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


async def _page_through(base: str, token: str) -> int:
    """Every physician, 500 a page, following ``next_cursor``; returns how many were read."""
    seen, cursor = 0, None
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        while True:
            query = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
            async with http.get(f"{base}/api/physicians", params=query, headers=headers) as answer:
                body = await answer.json()
            seen += len(body["items"]) if answer.status == 200 else 0
            cursor = body.get("next_cursor") if answer.status == 200 else None
            if not cursor:
                return seen


async def _sampled(pid: int, work: asyncio.Task[Any]) -> float:
    """The largest resident set of ``pid`` seen while ``work`` runs (MiB)."""
    largest = 0.0
    while not work.done():
        largest = max(largest, memory(pid)[0])
        await asyncio.sleep(0.05)
    await work
    return largest


async def _run(engine: str, args: argparse.Namespace) -> None:
    async with database_url(engine) as url:
        world = await _world(url, args.physicians)
        folder = Path(tempfile.mkdtemp(prefix="memory-"))
        bare_port, service_port = free_port(), free_port()
        bare, service = _start_bare(url, bare_port), _start_service(url, service_port, folder)
        try:
            bare_base = f"http://127.0.0.1:{bare_port}"
            service_base = f"http://127.0.0.1:{service_port}"
            await _until_healthy(bare_base)
            await _until_healthy(service_base)
            await asyncio.sleep(2)  # start-up jobs (planner, horizon) have run
            print(
                f"{engine}: {args.physicians} physicians, storm of {args.storm} participants "
                f"(join + leave), {args.connections} connections, {datetime.now(UTC):%Y-%m-%d}, "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            rows = [("idle", memory(bare.pid)[0], memory(service.pid)[0])]

            paged = await _page_through(service_base, world.token)
            assert paged == args.physicians, f"paged {paged} of {args.physicians}"
            rows.append(("after paging", memory(bare.pid)[0], memory(service.pid)[0]))

            bodies = _signed(_storm_bodies(world, args.storm))
            bare_storm = asyncio.create_task(
                _storm(bare_base, bodies, args.connections, args.seconds)
            )
            bare_peak = await _sampled(bare.pid, bare_storm)
            service_storm = asyncio.create_task(
                _storm(service_base, bodies, args.connections, args.seconds)
            )
            service_peak = await _sampled(service.pid, service_storm)
            rows.append(("storm (sampled)", bare_peak, service_peak))
            rows.append(("peak (VmHWM)", memory(bare.pid)[1], memory(service.pid)[1]))

            print(f"  {'phase':18} {'bare MiB':>9} {'service MiB':>12} {'ratio':>6}")
            for phase, bare_mib, service_mib in rows:
                print(
                    f"  {phase:18} {bare_mib:9.1f} {service_mib:12.1f} "
                    f"{service_mib / bare_mib:5.1f}x"
                )
        finally:
            _stop(service)
            _stop(bare)
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--physicians", type=int, default=42_000)
    parser.add_argument("--storm", type=int, default=6000, help="participants in the storm")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60, help="at most, per storm")
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL at 127.0.0.1")
    args = parser.parse_args()
    if args.storm > args.physicians:
        parser.error("--storm cannot exceed --physicians")
    asyncio.run(_run("postgresql" if args.pg else "sqlite", args))


if __name__ == "__main__":
    main()
