"""Certificates of one session: queued (PDF and outbox row each), then delivered over SMTP, next
to plain aiosmtplib sending the same messages over one connection.

Builds a fresh SQLite database (PostgreSQL with --pg) with one finalised session of N certified
attendees and a real SMTP server (aiosmtpd) on loopback, then times, in the same run:

- queue: ``issue_certificates`` (a PDF, a certificate row and an outbox row per attendee);
- deliver: the outbox worker sending every queued message through ``SmtpTransport``;
- baseline: aiosmtplib alone sending the same raw messages over one connection.

With ``--lag`` it also tells how late the event loop wakes a task during the queue. With
``--pipelined`` it also times the whole path as the service runs it, the worker sending
while the queue fills (woken after each batch of 200), in a second database.

The PDFs are drawn as the service draws them: in ``--pdf-workers`` processes (default: the
service's, ``TRACKER_PDF_WORKERS``), started before the queue is timed, like the fonts; 0 draws
them on the event loop, as before the ninth session.

It prints each per certificate (wall clock, then the CPU time of the process and of every
process it started, the PDF workers included, which the other processes of a shared machine
disturb less; the SMTP server's thread is in both), the whole path (queue + deliver) as a share of the baseline
(the goal of issue 16 is at least 50 %), the once-per-process preparation of the fonts (timed
apart, before the queue, with the workers' start) and the process's peak memory (resident set)
after the whole path (the workers' own apart).

    .venv/bin/python bench/certificates.py --attendees 300 --pg
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

import aiosmtplib
from aiosmtpd.controller import Controller
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from notifications.models import OutboxMessage
from notifications.pdf import font_files, load_fonts, printable
from notifications.rendering import PDF_WORKERS, ProcessRenderer, renderer
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import ended_session, job_context
from tests.smtp import Recorder, free_port
from tracker.db import Database
from tracker.migrate import upgrade
from tracker.services.certificates import issue_certificates
from tracker.services.finalisation import finalize

GRACE = timedelta(minutes=90)
SENDER = "webinars@cme.example.org"


async def _pipelined(engine: str, attendees: int, port: int, workers: int) -> float:
    """The whole path with the worker running meanwhile, woken after each batch (as the service
    runs it): from the start of the queue to the last message handed over, in a second database
    holding the same session."""
    async with database_url(engine) as url:
        await upgrade(url)
        return await _pipelined_in(url, attendees, port, workers)


async def _pipelined_in(url: str, attendees: int, port: int, workers: int) -> float:
    database = Database(url)
    try:
        now = datetime.now(UTC)
        occurrence = await ended_session(
            database, attendees, ended=now - GRACE * 2, certified=attendees
        )
        assert await finalize(database, occurrence, now=now, grace=GRACE)
        worker = DeliveryWorker(
            database.session,
            SmtpTransport(f"smtp://127.0.0.1:{port}"),
            sender=SENDER,
            rate_per_second=0,
            idle_seconds=0.05,
        )
        pdfs = renderer(workers)
        if isinstance(pdfs, ProcessRenderer):
            await pdfs.start()
        running = asyncio.create_task(worker.run())
        began = time.perf_counter()
        context = job_context(database, None)
        await issue_certificates(
            database, context.mail, occurrence, now=now, poke=worker.poke, pdfs=pdfs
        )
        query = select(func.count()).where(
            OutboxMessage.occurrence_id == occurrence, OutboxMessage.status == "sent"
        )
        while True:
            async with database.session() as session:
                if (await session.exec(query)).one() == attendees:
                    break
            await asyncio.sleep(0.02)
        took = time.perf_counter() - began
        worker.stop()
        await running
        if isinstance(pdfs, ProcessRenderer):
            pdfs.close()
        return took
    finally:
        await database.close()


def _cpu() -> float:
    """CPU time of this process and of every process it started (the PDF workers, the fork
    server that starts them): live ones read from ``/proc``, ended ones from ``getrusage``."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        spent[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    ours, found = {os.getpid()}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                found = True
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = sum(spent[pid] for pid in ours if pid != os.getpid())
    return time.process_time() + children + ended.ru_utime + ended.ru_stime


def _peak(pid: int) -> float:
    """A live process's peak resident set, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _probe(late: list[float]) -> None:
    """How late the event loop wakes a task that asks to be woken every millisecond: what a
    webhook arriving meanwhile would wait before its handler runs."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + 0.001
        await asyncio.sleep(0.001)
        late.append(loop.time() - asked)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def _measure(
    engine: str, url: str, attendees: int, *, pipeline: bool, workers: int, lag: bool
) -> dict[str, float]:
    await upgrade(url)
    database = Database(url)
    port = free_port()
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        now = datetime.now(UTC)
        occurrence = await ended_session(
            database, attendees, ended=now - GRACE * 2, certified=attendees
        )
        assert await finalize(database, occurrence, now=now, grace=GRACE)
        context = job_context(database, None)
        began = time.perf_counter()
        font_files()
        printable("")
        load_fonts()
        pdfs = renderer(workers)
        if isinstance(pdfs, ProcessRenderer):
            await pdfs.start()
        fonts = time.perf_counter() - began
        late: list[float] = []
        probe = asyncio.create_task(_probe(late)) if lag else None
        began, cpu = time.perf_counter(), _cpu()
        queued = await issue_certificates(database, context.mail, occurrence, now=now, pdfs=pdfs)
        queue, queue_cpu = time.perf_counter() - began, _cpu() - cpu
        if probe is not None:
            probe.cancel()
            late.sort()
        workers_peak = 0.0
        if isinstance(pdfs, ProcessRenderer):
            workers_peak = sum(map(_peak, pdfs.pids()))
            pdfs.close()
        assert queued == attendees, queued
        async with database.session() as session:
            raws = list((await session.exec(select(OutboxMessage.raw))).all())
        worker = DeliveryWorker(
            database.session,
            SmtpTransport(f"smtp://127.0.0.1:{port}"),
            sender=SENDER,
            rate_per_second=0,
        )
        began, cpu = time.perf_counter(), _cpu()
        assert await worker.run_once() == attendees
        deliver, deliver_cpu = time.perf_counter() - began, _cpu() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        pipelined = await _pipelined(engine, attendees, port, workers) if pipeline else float("nan")
        began, cpu = time.perf_counter(), _cpu()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            for n, raw in enumerate(raws):
                await client.sendmail(SENDER, [f"p{n}@example.org"], raw or b"")
        baseline, baseline_cpu = time.perf_counter() - began, _cpu() - cpu
        return {
            "queue": queue,
            "deliver": deliver,
            "baseline": baseline,
            "queue_cpu": queue_cpu,
            "deliver_cpu": deliver_cpu,
            "baseline_cpu": baseline_cpu,
            "fonts": fonts,
            "peak": peak,
            "workers_peak": workers_peak,
            "late_p50": _quantile(late, 0.5),
            "late_p99": _quantile(late, 0.99),
            "late_max": late[-1] if late else float("nan"),
            "pipelined": pipelined,
        }
    finally:
        controller.stop()
        await database.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=300)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL at 127.0.0.1")
    parser.add_argument(
        "--pipelined",
        action="store_true",
        help="also the whole path with the worker sending while the queue fills",
    )
    parser.add_argument(
        "--pdf-workers",
        type=int,
        default=PDF_WORKERS,
        help=f"processes drawing the PDFs (0: on the event loop; default {PDF_WORKERS}, the "
        "service's default)",
    )
    parser.add_argument(
        "--lag",
        action="store_true",
        help="also how late the event loop wakes a task during the queue (a probe every ms)",
    )
    args = parser.parse_args()
    results = []
    for engine in ("sqlite", "postgresql") if args.pg else ("sqlite",):
        async with database_url(engine) as url:
            results.append(
                (
                    engine,
                    await _measure(
                        engine,
                        url,
                        args.attendees,
                        pipeline=args.pipelined,
                        workers=args.pdf_workers,
                        lag=args.lag,
                    ),
                )
            )
    n = args.attendees
    for engine, r in results:
        whole = r["queue"] + r["deliver"]
        print(
            f"{engine:10} {n} certificates: queue {r['queue'] / n * 1000:5.2f} ms each, "
            f"deliver {r['deliver'] / n * 1000:5.2f} ms each, whole path "
            f"{whole / n * 1000:5.2f} ms each; aiosmtplib alone {r['baseline'] / n * 1000:5.2f} "
            f"ms each: whole path at {r['baseline'] / whole:4.0%} of the baseline (delivery "
            f"alone {r['baseline'] / r['deliver']:4.0%}); fonts prepared once in "
            f"{r['fonts'] * 1000:.0f} ms; peak memory {r['peak']:.0f} MiB (PDF workers "
            f"{r['workers_peak']:.0f} MiB)"
        )
        whole_cpu = r["queue_cpu"] + r["deliver_cpu"]
        print(
            f"{engine:10} CPU time (the process's and its PDF workers', SMTP server thread included): queue "
            f"{r['queue_cpu'] / n * 1000:5.2f} ms each, deliver {r['deliver_cpu'] / n * 1000:5.2f}"
            f" ms each; aiosmtplib alone {r['baseline_cpu'] / n * 1000:5.2f} ms each: whole path "
            f"at {r['baseline_cpu'] / whole_cpu:4.0%} of the baseline (delivery alone "
            f"{r['baseline_cpu'] / r['deliver_cpu']:4.0%})"
        )
        if args.lag:
            print(
                f"{engine:10} the event loop during the queue wakes a task late by "
                f"{r['late_p50'] * 1000:.2f} ms (median), {r['late_p99'] * 1000:.2f} ms (p99), "
                f"{r['late_max'] * 1000:.1f} ms at worst"
            )
        if args.pipelined:
            print(
                f"{engine:10} pipelined whole path {r['pipelined'] / n * 1000:5.2f} ms each: "
                f"at {r['baseline'] / r['pipelined']:4.0%} of the baseline"
            )


if __name__ == "__main__":
    asyncio.run(main())
