"""Importing 42,000 physicians from a CSV, next to a plain multi-row INSERT of the same rows.

Builds a fresh database (SQLite file; PostgreSQL at 127.0.0.1 with --pg), generates a realistic
physicians CSV (French and English names with accents, mixed-case addresses, NPI and RPPS
numbers, one bad row in 5,000: ``tests/physician_files.py``), then times, in the same run:

- the baseline (the floor): the same rows, already validated and with their token hashes,
  inserted into a scratch table of the same columns with one executemany of a plain
  ``INSERT`` (SQLAlchemy sends it as multi-row ``VALUES``) through the same driver, one
  transaction;
- the import: reading the CSV, validating every row, creating the physicians a chunk at a
  time (:func:`tracker.services.imports.import_physicians`, what ``tracker import-physicians``
  runs after start-up);
- the re-import of the same file, which must change nothing.

    .venv/bin/python bench/import_physicians.py [--rows 42000] [--pg] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import database_url
from tests.physician_files import physicians_file
from tracker.adapters.physicians_csv import physician_rows, physician_values
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.domain.physicians import import_row
from tracker.domain.tokens import hash_token, new_token
from tracker.errors import RowError
from tracker.migrate import upgrade
from tracker.services.context import load_services
from tracker.services.imports import import_physicians
from tracker.settings import Settings

TABLE = Physician.__table__  # type: ignore[attr-defined]


def _floor_rows(text: str) -> list[dict[str, Any]]:
    """The rows the import stores, as plain values (validation done before the clock starts)."""
    rows = []
    for item in physician_rows(text):
        if isinstance(item, RowError):
            continue
        try:
            row = import_row(item[0], physician_values(item[1]))
        except RowError:
            continue
        rows.append(row.values | {"token_hash": hash_token(new_token("phy_"))})
    return rows


async def _floor(database: Database, rows: list[dict[str, Any]]) -> float:
    scratch = TABLE.to_metadata(MetaData(), name="bench_floor")
    for index in list(scratch.indexes):  # a plain table: no index but the unique ones
        scratch.indexes.discard(index)
    async with database.engine.begin() as connection:
        await connection.run_sync(scratch.metadata.create_all)
    stamp = datetime.now(UTC)
    params = [row | {"created_at": stamp, "updated_at": stamp} for row in rows]
    began = time.perf_counter()
    async with database.engine.begin() as connection:
        await connection.execute(insert(scratch), params)
    took = time.perf_counter() - began
    async with database.engine.connect() as connection:
        assert (await connection.scalar(select(func.count()).select_from(scratch))) == len(rows)
    return took


async def _import(url: str, text: str) -> tuple[float, float, dict[str, int], int]:
    """Wall time, this process's CPU time (the database server's not counted), the counts and
    the physicians then stored."""
    database = Database(url)
    try:
        services = await load_services(database, Settings(database_url=url))
        began, cpu = time.perf_counter(), time.process_time()
        report = await import_physicians(services, list(physician_rows(text)))
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        async with database.engine.connect() as connection:
            stored = await connection.scalar(select(func.count()).select_from(TABLE))
        return took, cpu, report.counts | {"bad": len(report.errors)}, int(stored or 0)
    finally:
        await database.close()


async def _measure(engine: str, count: int, profile: bool) -> None:
    made = physicians_file(count, bad_every=5000)
    async with database_url(engine) as url:
        await upgrade(url)
        database = Database(url)
        try:
            floor = await _floor(database, _floor_rows(made.text))
        finally:
            await database.close()
        if profile:
            from pyinstrument import Profiler

            with Profiler(async_mode="enabled") as profiler:
                first = await _import(url, made.text)
            profiler.print(show_all=False)
        else:
            first = await _import(url, made.text)
        again = await _import(url, made.text)
    took, cpu, counts, stored = first
    assert counts == {"created": made.good, "updated": 0, "unchanged": 0, "bad": len(made.errors)}
    assert again[2] == {"created": 0, "updated": 0, "unchanged": made.good, "bad": len(made.errors)}
    assert stored == again[3] == made.good
    print(
        f"{engine:10} {count:>7,} {floor:>7.2f} s {count / floor:>7,.0f}/s "
        f"{took:>7.2f} s {count / took:>6,.0f}/s {cpu:>6.1f} s {took / floor:>6.1f}x "
        f"{again[0]:>7.2f} s {count / again[0]:>6,.0f}/s {again[1]:>6.1f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=42_000)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL at 127.0.0.1")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    args = parser.parse_args()
    print(
        f"{'engine':10} {'rows':>7} {'INSERT (floor)':>17} {'import':>16} {'CPU':>8} "
        f"{'ratio':>7} {'re-import':>16} {'CPU':>8}"
    )
    await _measure("postgresql" if args.pg else "sqlite", args.rows, args.profile)


if __name__ == "__main__":
    asyncio.run(main())
