"""Database access: one async engine per process, sessions handed out per unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tracker.domain.folding import FOLD_FUNCTION, fold

_T = TypeVar("_T")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
    Searches fold case and accents with :func:`tracker.domain.folding.fold`, as PostgreSQL's
    ``translate`` does from the same table."""
    dbapi_connection.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file so that a fresh checkout can start at once."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, pool_timeout: float = 10.0) -> AsyncEngine:
    """An engine for ``url`` with the pragmas and pool settings each backend needs;
    ``pool_timeout``: how long a request waits for a free connection (then: 503)."""
    ensure_sqlite_directory(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 10}, pool_timeout=pool_timeout)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=pool_timeout
    )


class Database:
    """The engine and its session factory; created in the app's ``cleanup_ctx`` or a CLI command."""

    def __init__(self, url: str, *, pool_timeout: float = 10.0) -> None:
        self.url = url
        self.engine = make_engine(url, pool_timeout=pool_timeout)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # SQLite: a synchronous engine, one thread for :meth:`write` and a few for :meth:`read`
        # (made on first use).
        self._thread_engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Anything left uncommitted is rolled back."""
        async with self._sessions() as session:
            yield session

    async def write(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` run on a connection in one transaction, committed unless it raises.

        On SQLite the whole of it runs in one trip to a writing thread, on a synchronous
        connection: aiosqlite makes every statement (and every cursor, fetch and close) a trip
        between the event loop and its thread, and under a join storm those trips, each a hand
        of the GIL from one thread to the other, cost the event loop a fifth of its time. On
        PostgreSQL it runs on the async engine (asyncpg is in the event loop already).
        """
        engine = self._sqlite_engine()
        if engine is None:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)

        def transaction() -> _T:
            with engine.begin() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    async def read(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` run on a connection and rolled back: a read-only use case in one trip to
        the database (on SQLite, to a reading thread; see :meth:`write`)."""
        engine = self._sqlite_engine()
        if engine is None:
            async with self.engine.connect() as connection:
                return await connection.run_sync(work)

        def transaction() -> _T:
            with engine.connect() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self._readers, transaction)

    def _sqlite_engine(self) -> Engine | None:
        """The synchronous engine of a SQLite file (made on first use), else ``None``."""
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        if self._thread_engine is None:
            sync_url = url.set(drivername="sqlite+pysqlite")
            self._thread_engine = create_engine(
                sync_url, connect_args={"timeout": 10, "check_same_thread": False}
            )
            event.listen(self._thread_engine, "connect", _sqlite_on_connect)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
            self._readers = ThreadPoolExecutor(4, thread_name_prefix="sqlite-reader")
        return self._thread_engine

    async def ping(self) -> bool:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        """Close every pooled connection (the next use opens new ones), the writing and
        reading threads' included."""
        await self.engine.dispose()
        if self._thread_engine is not None:
            self._thread_engine.dispose()

    async def close(self) -> None:
        await self.engine.dispose()
        if self._thread_engine is not None:
            engine = self._thread_engine
            for pool in (self._readers, self._thread):
                if pool is not None:
                    pool.shutdown(wait=True)
            engine.dispose()
            self._thread, self._readers, self._thread_engine = None, None, None
