"""Database access: one async engine per process, sessions handed out per unit of work."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
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


@dataclass
class _SqliteThreads:
    """A SQLite file's synchronous engine, its one writing thread and its reading threads; the
    writing thread keeps one connection (SQLite has one writer anyway), so a storm's group
    commits do not check a connection out of the pool and back in, each."""

    engine: Engine
    writer: ThreadPoolExecutor
    readers: ThreadPoolExecutor
    writing: Connection | None = None  # used in the writing thread only

    def writing_connection(self) -> Connection:
        if self.writing is None or self.writing.closed or self.writing.invalidated:
            if self.writing is not None:
                self.writing.close()
            self.writing = self.engine.connect()
        return self.writing

    def close_writing(self) -> None:
        if self.writing is not None:
            self.writing.close()
            self.writing = None


class Database:
    """The engine and its session factory; created in the app's ``cleanup_ctx`` or a CLI command."""

    def __init__(self, url: str, *, pool_timeout: float = 10.0) -> None:
        self.url = url
        self.engine = make_engine(url, pool_timeout=pool_timeout)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        parsed = make_url(url)
        self._sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
            None,
            "",
            ":memory:",
        )
        self._threads: _SqliteThreads | None = None  # made on first use
        #: PostgreSQL: the connection :meth:`write` keeps, one write at a time (see there)
        self._writing: AsyncConnection | None = None
        self._writing_lock = asyncio.Lock()
        self._commits = itertools.count(1)
        #: Moves whenever this process commits a transaction on either engine (a write, as
        #: far as anyone here can tell): what this process remembers of the data (a feed's
        #: version, say) holds only while it is unchanged. Other processes' writes do not
        #: move it.
        self.generation = 0
        event.listen(self.engine.sync_engine, "commit", self._committed)

    def _committed(self, _connection: Connection) -> None:
        self.generation = next(self._commits)  # atomic: commits come from several threads

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
        return await self._one_trip(work, commit=True)

    async def read(self, work: Callable[[Connection], _T]) -> _T:
        """``work`` run on a connection and rolled back: a read-only use case in one trip to
        the database (on SQLite, to a reading thread; see :meth:`write`)."""
        return await self._one_trip(work, commit=False)

    async def _one_trip(self, work: Callable[[Connection], _T], *, commit: bool) -> _T:
        threads = self._sqlite_threads()
        if threads is None and commit:
            return await self._write_held(work)
        if threads is None:
            async with self.engine.connect() as connection:
                return await connection.run_sync(work)
        engine = threads.engine

        def transaction() -> _T:
            if commit:
                connection = threads.writing_connection()
                with connection.begin():
                    return work(connection)
            with engine.connect() as connection:
                return work(connection)

        pool = threads.writer if commit else threads.readers
        return await asyncio.get_running_loop().run_in_executor(pool, transaction)

    async def _write_held(self, work: Callable[[Connection], _T]) -> _T:
        """PostgreSQL's :meth:`write`: on the connection kept for writes, one at a time, as
        SQLite's writing thread keeps its own. A pooled connection is pinged each time it is
        checked out (a round trip, and a fifth of a group commit's CPU under a join storm); a
        kept one is not, so a connection the server dropped (a restart) fails its next write:
        that write is made again once on a new connection. Writes are idempotent (events are
        inserted on their unique key; a pending award's generation only rises), so a commit
        whose answer was lost in the drop stores nothing twice."""
        async with self._writing_lock:
            for attempt in (1, 2):
                if self._writing is None or self._writing.invalidated or self._writing.closed:
                    await self._close_writing()
                    self._writing = await self.engine.connect()
                try:
                    async with self._writing.begin():
                        return await self._writing.run_sync(work)
                except DBAPIError as exc:
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

    async def _close_writing(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            with contextlib.suppress(Exception):  # a dropped connection closes all the same
                await writing.close()

    def _sqlite_threads(self) -> _SqliteThreads | None:
        """The synchronous engine and threads of a SQLite file (made on first use), else
        ``None``."""
        if self._threads is None and self._sqlite_file:
            engine = create_engine(
                make_url(self.url).set(drivername="sqlite+pysqlite"),
                connect_args={"timeout": 10, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "commit", self._committed)
            self._threads = _SqliteThreads(
                engine,
                writer=ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer"),
                readers=ThreadPoolExecutor(4, thread_name_prefix="sqlite-reader"),
            )
        return self._threads

    async def ping(self) -> bool:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        """Close every pooled connection (the next use opens new ones), the writing and
        reading threads' included."""
        async with self._writing_lock:
            await self._close_writing()
        await self.engine.dispose()
        if self._threads is not None:
            threads = self._threads
            await asyncio.get_running_loop().run_in_executor(threads.writer, threads.close_writing)
            threads.engine.dispose()

    async def close(self) -> None:
        threads, self._threads = self._threads, None
        if threads is not None:  # let the threads finish their work first
            threads.readers.shutdown(wait=True)
            threads.writer.shutdown(wait=True)
            threads.close_writing()  # its thread is done
            threads.engine.dispose()
        async with self._writing_lock:
            await self._close_writing()
        await self.engine.dispose()
