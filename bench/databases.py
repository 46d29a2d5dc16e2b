"""Throw-away databases for the benchmarks: a SQLite file, or a PostgreSQL database at
127.0.0.1 (user postgres) that is dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def database_url(engine: str) -> AsyncIterator[str]:
    """The URL of a new, empty database on ``engine`` (``sqlite`` or ``postgresql``)."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
