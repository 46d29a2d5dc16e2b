"""Monthly statements with two service instances on one database: each composed once.

Builds, for each measure, a fresh database (PostgreSQL with --pg, else SQLite) holding one
finalised session of N attendees (so N statements for its month), then times the process's CPU
in the same run for:

- baseline: one instance sending the month's statements (each composed once, by definition);
- before: two instances (two engines, as two ``tracker serve`` workers) running the loop the
  service had before claims (each composes every statement the outbox key does not show yet);
- after: two instances running :func:`tracker.services.statements.send_statements` (claimed
  rows, ten at a time under a lease).

It prints, for each, the CPU time per statement, the ratio to the baseline and how many times
statements were composed (counted at ``statement_data``, the start of a composition).

    .venv/bin/python bench/statements.py --physicians 200 --pg
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from tests.factories import ended_session, job_context
from tracker.db import Database
from tracker.domain import documents, mailings
from tracker.domain.mailings import MailSettings, enqueue_statement, physicians_with_activity
from tracker.migrate import upgrade
from tracker.services.finalisation import finalize
from tracker.services.statements import send_statements

GRACE = timedelta(minutes=90)
SESSION_NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
PERIOD, SENT_AT = "2026-11", datetime(2026, 12, 1, 6, 5, tzinfo=UTC)
COMPOSED = [0]
_REAL = documents.statement_data


def _counting(*args: Any) -> Any:
    COMPOSED[0] += 1
    return _REAL(*args)


mailings.statement_data = _counting  # type: ignore[attr-defined]  # counted, still real


async def old_loop(database: Database, mail: MailSettings) -> None:
    """The service's loop before claims: every statement the outbox does not hold yet."""
    async with database.session() as session:
        ids = await physicians_with_activity(session, PERIOD)
    for physician_id in ids:
        async with database.session() as session:
            await enqueue_statement(session, mail, physician_id, PERIOD, now=SENT_AT)
            await session.commit()


async def new_path(database: Database, mail: MailSettings) -> None:
    await send_statements(database, mail, PERIOD, now=SENT_AT)


Run = Callable[[Database, MailSettings], Awaitable[None]]


async def measure(engine: str, physicians: int, run: Run, instances: int) -> tuple[float, int]:
    """CPU seconds of ``instances`` instances running ``run`` at once, and compositions."""
    async with database_url(engine) as url:
        await upgrade(url)
        databases = [Database(url) for _ in range(instances)]
        try:
            occurrence = await ended_session(
                databases[0], physicians, ended=SESSION_NOW - GRACE * 2, certified=physicians
            )
            assert await finalize(databases[0], occurrence, now=SESSION_NOW, grace=GRACE)
            mail = job_context(databases[0], None).mail
            COMPOSED[0] = 0
            began = time.process_time()
            await asyncio.gather(*(run(db, mail) for db in databases))
            return time.process_time() - began, COMPOSED[0]
        finally:
            for db in databases:
                await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--physicians", type=int, default=200)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (else SQLite)")
    args = parser.parse_args()
    engine = "postgresql" if args.pg else "sqlite"
    n = args.physicians
    await measure(engine, 5, new_path, 1)  # fonts prepared, modules warm: not in the figures
    baseline, once = await measure(engine, n, new_path, 1)
    before, twice = await measure(engine, n, old_loop, 2)
    after, claimed = await measure(engine, n, new_path, 2)
    print(f"{n} statements on {engine}, CPU time of the process")
    for name, cpu, composed in (
        ("baseline: one instance", baseline, once),
        ("before: two instances, no claims", before, twice),
        ("after: two instances, claimed rows", after, claimed),
    ):
        print(
            f"  {name:38} {cpu * 1000 / n:6.2f} ms/statement  {cpu / baseline:5.2f}x baseline"
            f"  composed {composed} ({composed / n:.2f} per statement)"
        )


if __name__ == "__main__":
    asyncio.run(main())
