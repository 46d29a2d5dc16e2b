"""A join storm of signed Zoom webhooks, and batches of the attendance API, against a real
``tracker serve`` process, next to a bare aiohttp handler measured in the same run.

Builds a fresh database (a SQLite file; PostgreSQL at 127.0.0.1 with --pg) holding one running
session of a Zoom webinar and --participants registered physicians, then starts two servers on
127.0.0.1, each in its own process (the client gets the other core):

- bare: a plain aiohttp handler that reads the body and answers 200 with a small JSON object
  (the ceiling for this machine, client and payload);
- service: ``tracker serve`` on that database, with its access log, scheduler and outbox worker
  as in production.

Storm: one join and one leave per participant, signed as Zoom signs them, posted by
--connections concurrent clients, first to the bare handler, then to the service (the same
bodies, re-signed), --rounds times in turn (each round's events new facts), so that a load coming
and going on a shared machine weighs on both sides of the ratio. Each round starts once the
service has computed the previous round's awards (else that work, done behind the answers,
would weigh on the next round's bare handler and flatter the ratio). It prints events per second,
p50/p99/max latency and the service's rate as a share of the bare one, each round and their
median; then counts what the database holds: every acknowledged event exactly
once, and how long the credit projection took to catch up behind the answers.

Batches: --batches lists of --batch-size events to ``POST /api/attendance-events``, one after
the other, to both servers; events per second of each batch (its size over its latency). Here
the bare handler also parses the list and inserts it as raw rows with one statement and one
commit on the same database (what durable storage of a batch costs at least).

Bounded: at most --participants x 2 webhook posts and --seconds per phase; only 127.0.0.1.

    .venv/bin/python bench/join_storm.py                 # SQLite (make bench)
    .venv/bin/python bench/join_storm.py --pg            # PostgreSQL (make bench-pg)
    .venv/bin/python bench/join_storm.py --profile var/storm.txt   # py-spy on the service
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tracker.adapters.zoom_webhook import sign
from tracker.db import Database
from tracker.domain.models import (
    AttendanceEvent,
    Award,
    AwardPending,
    Occurrence,
    Physician,
)
from tracker.migrate import upgrade
from tracker.services.organizers import create_organizer

SECRET = "bench-zoom-secret"
WEBINAR = "81234567890"
TRACKER = str(Path(sys.executable).with_name("tracker"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The world: one running session, its physicians ------------------------------------------------


@dataclass(frozen=True)
class World:
    token: str  # an organiser's
    occurrence_id: int
    start: datetime
    physician_ids: list[int]


async def _world(url: str, participants: int) -> World:
    await upgrade(url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    database = Database(url)
    try:
        async with database.session() as session:
            _organizer, token = await create_organizer(
                database, name="Bench", email="bench@example.org"
            )
            data = SeriesCreate.model_validate(
                {
                    "title": "Join storm",
                    "timezone": "UTC",
                    "start": start.replace(tzinfo=None).isoformat(),
                    "duration_minutes": 60,
                    "join_url": f"https://zoom.us/j/{WEBINAR}",
                    "credits": [{"type": "AMA_PRA_1", "max": 1}],
                    "zoom_webinar_id": WEBINAR,
                }
            )
            series = await create_series(session, data, credit_types=["AMA_PRA_1"], now=start)
            await session.commit()
            query = select(Occurrence.id).where(Occurrence.series_id == series.id)
            occurrence_id = (await session.exec(query)).one() or 0
            rows = [
                Physician(
                    first_name="Ana",
                    last_name=f"Storm {n:06d}",
                    email=f"p{n}@example.org",
                    token_hash=f"{n:064d}",
                ).model_dump(exclude={"id"})
                for n in range(participants)
            ]
            for chunk in range(0, len(rows), 2000):
                await session.exec(insert(Physician), params=rows[chunk : chunk + 2000])
            await session.commit()
            ids = (await session.exec(select(Physician.id).order_by(col(Physician.id)))).all()
    finally:
        await database.close()
    return World(token, occurrence_id, start, [i for i in ids if i is not None])


def _zoom_event(kind: str, n: int, at: datetime) -> bytes:
    field = "join_time" if kind == "joined" else "leave_time"
    payload = {
        "event": f"webinar.participant_{kind}",
        "event_ts": int(at.timestamp() * 1000),
        "payload": {
            "account_id": "bench",
            "object": {
                "id": WEBINAR,
                "uuid": "storm-instance==",
                "participant": {
                    "user_name": f"Ana Storm {n}",
                    "email": f"P{n}@example.org",
                    "participant_uuid": f"storm-{n}",
                    field: at.isoformat().replace("+00:00", "Z"),
                },
            },
        },
    }
    return json.dumps(payload).encode()


def _storm_bodies(world: World, participants: int, round_: int = 0) -> list[bytes]:
    """Everyone joins in the first minutes, then everyone leaves (a minute apart per tenth);
    each round's events a few seconds later than the last round's (new facts, the same work)."""
    shift = timedelta(seconds=3 * round_)
    joins = [
        _zoom_event("joined", n, world.start + shift + timedelta(seconds=n % 300))
        for n in range(participants)
    ]
    leaves = [
        _zoom_event("left", n, world.start + shift + timedelta(minutes=20 + n % 10))
        for n in range(participants)
    ]
    return joins + leaves


def _signed(bodies: list[bytes]) -> list[tuple[bytes, dict[str, str]]]:
    timestamp = str(int(time.time()))
    return [
        (
            body,
            {
                "x-zm-request-timestamp": timestamp,
                "x-zm-signature": sign(SECRET, timestamp, body),
                "Content-Type": "application/json",
            },
        )
        for body in bodies
    ]


def _batches(world: World, count: int, size: int) -> list[bytes]:
    """``count`` lists of ``size`` API events (half by physician id, half by email)."""
    bodies = []
    ids = world.physician_ids
    for b in range(count):
        events = []
        for n in range(size):
            who = ids[(b * size + n) // 2 % len(ids)]
            event: dict[str, Any] = {
                "event_id": f"b{b}-{n}",
                "occurrence_id": world.occurrence_id,
                "kind": "join" if n % 2 == 0 else "leave",
                "at": (world.start + timedelta(minutes=1 + 30 * (n % 2))).isoformat(),
                "connection_id": f"api-{b}-{n // 2}",
            }
            if n % 4 < 2:
                event["physician_id"] = who
            else:
                event["email"] = f"p{who - ids[0]}@example.org"
            events.append(event)
        bodies.append(json.dumps(events, separators=(",", ":")).encode())
    return bodies


# Servers ---------------------------------------------------------------------------------------


def _bare_app(url: str) -> web.Application:
    """The baseline. Webhook: read the body, answer. Batch: read and parse the body, insert its
    events as raw rows (external id, JSON) in one statement and commit, on the same database
    through the same driver: the least any durable ingestion of a batch must do."""
    engine = create_async_engine(url)

    async def zoom(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted"})

    async def batch(request: web.Request) -> web.Response:
        events = json.loads(await request.read())
        rows = [{"external_id": e["event_id"], "payload": json.dumps(e)} for e in events]
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO bench_raw (external_id, payload) VALUES (:external_id, :payload)"
                    " ON CONFLICT DO NOTHING"
                ),
                rows,
            )
        return web.json_response(
            {"accepted": len(rows), "duplicates": 0, "unmatched": 0}, status=202
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def table(_app: web.Application) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS bench_raw"
                    " (external_id VARCHAR(300) PRIMARY KEY, payload TEXT NOT NULL)"
                )
            )
        yield
        await engine.dispose()

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.cleanup_ctx.append(table)
    app.router.add_post("/webhooks/zoom", zoom)
    app.router.add_post("/api/attendance-events", batch)
    app.router.add_get("/healthz", health)
    return app


def _start_bare(url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--serve-bare", str(port), "--bare-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _start_service(url: str, port: int, folder: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    settings = {
        "TRACKER_DATABASE_URL": url,
        "TRACKER_PORT": str(port),
        "TRACKER_HOST": "127.0.0.1",
        "TRACKER_ZOOM_WEBHOOK_SECRET": SECRET,
        "TRACKER_MAILDIR": str(folder / "mail"),
        "TRACKER_BASE_URL": "https://cme.example.org",
    }
    return subprocess.Popen(
        [TRACKER, "serve", *(["--workers", str(workers)] if workers > 1 else [])],
        cwd=folder,
        env=kept | settings,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "service.log").open("wb"),
    )


async def _until_healthy(base: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{base} did not become healthy within {within} s")


def _start_profiler(pid: int, output: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the service until SIGINT: raw collapsed stacks of whichever thread holds
    the GIL (one process is bound by its event loop, which holds it most of the time)."""
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    options = ["--rate", "500", "--format", "raw", "--output", output, "--gil"]
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Load ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    sent: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    acknowledged: list[bytes]
    cpu: float = 0.0  # the server process's CPU seconds during the phase

    @property
    def cpu_per_event(self) -> float:
        """Microseconds of the server's CPU per acknowledged event (the machine's load hardly
        changes it, unlike a rate: a figure to set beside the bare server's)."""
        return self.cpu / max(1, len(self.acknowledged)) * 1e6

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000

    def line(self, name: str, baseline: Load | None = None) -> str:
        share = f"  {self.rate / baseline.rate:6.1%} of bare" if baseline else ""
        if baseline and self.cpu and baseline.cpu:
            share += f" (CPU per event: {baseline.cpu_per_event / self.cpu_per_event:.1%} of bare)"
        return (
            f"  {name:8} {self.rate:8.0f} events/s  p50 {self.percentile(0.5):7.1f} ms  "
            f"p99 {self.percentile(0.99):7.1f} ms  max {max(self.latencies) * 1000:7.1f} ms  "
            f"cpu {self.cpu_per_event:5.0f} us/event  "
            f"status {dict(sorted(self.statuses.items()))}{share}"
        )


async def _storm(
    base: str,
    requests: list[tuple[bytes, dict[str, str]]],
    connections: int,
    seconds: float,
    pid: int = 0,
) -> Load:
    pending: Iterator[tuple[bytes, dict[str, str]]] = iter(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acknowledged: list[bytes] = []
    deadline = time.perf_counter() + seconds
    sent = 0

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal sent
        for body, headers in pending:
            if time.perf_counter() > deadline:
                return
            sent += 1
            began = time.perf_counter()
            async with http.post(f"{base}/webhooks/zoom", data=body, headers=headers) as response:
                await response.read()
            latencies.append(time.perf_counter() - began)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status == 200:
                acknowledged.append(body)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        cpu = cpu_seconds(pid) if pid else 0.0
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(connections)))
        took = time.perf_counter() - began
        cpu = (cpu_seconds(pid) - cpu) if pid else 0.0
    return Load(sent, took, latencies, statuses, acknowledged, cpu)


async def _post_batches(base: str, token: str, bodies: list[bytes]) -> list[tuple[float, int]]:
    """Each batch's latency and status, one after the other."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answers = []
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            began = time.perf_counter()
            async with http.post(
                f"{base}/api/attendance-events", data=body, headers=headers
            ) as response:
                await response.read()
            answers.append((time.perf_counter() - began, response.status))
    return answers


# After the storm: what the database holds -------------------------------------------------------


def _fact(event: Mapping[str, Any]) -> tuple[str, str, str]:
    participant = event["payload"]["object"]["participant"]
    return (
        event["event"],
        participant["participant_uuid"],
        participant.get("join_time") or participant["leave_time"],
    )


async def _count(url: str, acknowledged_bodies: list[bytes], within: float) -> str:
    """Every acknowledged event stored once; how long until every award was computed."""
    acknowledged = {_fact(event) for event in map(json.loads, acknowledged_bodies)}
    database = Database(url)
    try:
        async with database.session() as session:
            rows = (
                await session.exec(
                    select(AttendanceEvent.payload).where(AttendanceEvent.source == "zoom")
                )
            ).all()
        stored = [_fact(row) for row in rows]
        participants = len({who for _event, who, _at in acknowledged})
        missing = len(acknowledged - set(stored))
        twice = len(stored) - len(set(stored))
        began = time.perf_counter()
        awards = 0
        while time.perf_counter() - began < within:
            async with database.session() as session:
                query = select(func.count()).select_from(Award).where(Award.seconds > 0)
                awards = (await session.exec(query)).one()
            if awards >= participants:
                break
            await asyncio.sleep(0.05)
        lag = time.perf_counter() - began
    finally:
        await database.close()
    return (
        f"  stored: {len(stored)} events for {len(acknowledged)} acknowledged "
        f"({missing} missing, {twice} stored twice); awards {awards}/{participants} "
        f"computed {lag:.2f} s after the last answer"
    )


async def _projected(url: str, within: float) -> float:
    """Seconds until no award is pending (the projector has caught up), at most ``within``."""
    began = time.perf_counter()
    database = Database(url)
    try:
        while time.perf_counter() - began < within:
            async with database.session() as session:
                query = select(func.count()).select_from(AwardPending)
                if not (await session.exec(query)).one():
                    break
            await asyncio.sleep(0.05)
    finally:
        await database.close()
    return time.perf_counter() - began


# The run ---------------------------------------------------------------------------------------


async def _run(engine: str, args: argparse.Namespace) -> None:
    async with database_url(engine) as url:
        world = await _world(url, args.participants)
        folder = Path(tempfile.mkdtemp(prefix="join-storm-"))
        bare_port, service_port = free_port(), free_port()
        bare = _start_bare(url, bare_port)
        service = _start_service(url, service_port, folder, args.workers)
        profiler: subprocess.Popen[bytes] | None = None
        try:
            bare_base = f"http://127.0.0.1:{bare_port}"
            service_base = f"http://127.0.0.1:{service_port}"
            await _until_healthy(bare_base)
            await _until_healthy(service_base)
            bodies = _storm_bodies(world, args.participants)
            print(
                f"{engine}: {len(bodies)} signed join/leave events of {args.participants} "
                f"participants, {args.connections} connections, {args.workers} service "
                f"process(es), {args.rounds} round(s) of bare then service, "
                f"{datetime.now(UTC):%Y-%m-%d}, load average {os.getloadavg()[0]:.1f}"
            )
            # connections, imports, prepared statements and caches of both, with events of
            # their own (not the first round's: those would be duplicates there, cheaper)
            warm = _signed(_storm_bodies(world, args.participants, args.rounds)[:200])
            await _storm(bare_base, warm, args.connections, args.seconds)
            warmed = await _storm(service_base, warm, args.connections, args.seconds)
            await _projected(url, args.settle_seconds)
            if args.profile:
                profiler = _start_profiler(service.pid, args.profile)
                await asyncio.sleep(1)
            shares, acknowledged = [], list(warmed.acknowledged)
            for round_ in range(args.rounds):  # interleaved: a load that comes and goes
                # weighs on both sides of each ratio; each round's awards are computed before
                # the next round, so that no round pays for the previous one's projection
                if round_:
                    await _projected(url, args.settle_seconds)
                bodies = _storm_bodies(world, args.participants, round_)
                bare_load = await _storm(
                    bare_base, _signed(bodies), args.connections, args.seconds, bare.pid
                )
                service_load = await _storm(
                    service_base,
                    _signed(bodies),
                    args.connections,
                    args.seconds,
                    service.pid if args.workers == 1 else 0,  # the parent of workers does no work
                )
                print(bare_load.line("bare"))
                print(service_load.line("service", bare_load))
                shares.append(service_load.rate / bare_load.rate)
                acknowledged += service_load.acknowledged
            if args.rounds > 1:
                print(
                    f"  service/bare: {statistics.median(shares):.1%} of the bare rate (median of "
                    f"{args.rounds} rounds: {', '.join(f'{share:.1%}' for share in shares)})"
                )
            before = cpu_seconds(service.pid)  # with --workers: the parent's, about nothing
            print(await _count(url, acknowledged, args.settle_seconds))
            print(
                f"  projection after the storm: {cpu_seconds(service.pid) - before:.2f} s of the "
                "service's CPU"
            )
            if args.batches:
                batch_bodies = _batches(world, args.batches, args.batch_size)
                bare_batches = await _post_batches(bare_base, world.token, batch_bodies)
                service_batches = await _post_batches(service_base, world.token, batch_bodies)
                for name, answers in (("bare", bare_batches), ("service", service_batches)):
                    rates = [args.batch_size / seconds for seconds, _ in answers]
                    print(
                        f"  batch {name:8} {statistics.median(rates):8.0f} events/s (median of "
                        f"{len(rates)} batches of {args.batch_size}; slowest "
                        f"{min(rates):.0f})  status {sorted({s for _, s in answers})}"
                    )
                share = statistics.median(
                    b / s for (b, _), (s, _) in zip(bare_batches, service_batches, strict=True)
                )
                print(f"  batch service/bare: {share:.1%} of the bare rate (median)")
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=30)
            _stop(service)
            _stop(bare)
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="storms of each, interleaved")
    parser.add_argument("--seconds", type=float, default=60, help="at most, per phase")
    parser.add_argument("--settle-seconds", type=float, default=120)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL at 127.0.0.1")
    parser.add_argument(
        "--workers", type=int, default=1, help="service processes on one port (PostgreSQL only)"
    )
    parser.add_argument("--profile", help="write py-spy's raw stacks of the service here")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        web.run_app(
            _bare_app(args.bare_url), host="127.0.0.1", port=args.serve_bare, access_log=None
        )
        return
    asyncio.run(_run("postgresql" if args.pg else "sqlite", args))


if __name__ == "__main__":
    main()
