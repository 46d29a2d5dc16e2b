"""The database handle counts this process's commits, whichever way they are made, so that
what the process remembers of the data (tracker.services.memo) is dropped by its own writes."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Connection, text

from tests.conftest import _pg_admin, pg_url
from tracker.db import Database


def _count(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM physician")).scalar_one())


async def test_commits_move_the_generation_and_reads_do_not(database: Database) -> None:
    start = database.generation

    await database.read(_count)
    after_read = database.generation
    await database.write(lambda connection: connection.execute(text("SELECT 1")))
    after_write = database.generation
    async with database.session() as session:
        await (await session.connection()).execute(text("SELECT 1"))
        await session.commit()
    after_session = database.generation
    async with database.session() as session:
        await (await session.connection()).execute(text("SELECT 1"))
        await session.rollback()

    assert after_read == start
    assert start < after_write < after_session
    assert database.generation == after_session


@pytest.fixture
async def pg_database(pg_template: str) -> AsyncIterator[Database]:
    """A PostgreSQL database of this test's own (whatever the engine the suite is run on)."""
    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    database = Database(pg_url(name))
    try:
        yield database
    finally:
        await database.close()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _backend(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres
async def test_a_write_after_the_server_dropped_the_writing_connection_is_made_again(
    pg_database: Database,
) -> None:
    """On PostgreSQL writes keep one connection, not pinged before each use (a round trip per
    group commit): when the server has dropped it (a restart, an administrator), the next write
    fails on it and is made again on a new connection, once, and succeeds."""
    first = await pg_database.write(_backend)
    assert await pg_database.write(_backend) == first  # kept, not checked out each time
    await _pg_admin(f"SELECT pg_terminate_backend({first})")

    again = await pg_database.write(_backend)
    count = await pg_database.write(_count)

    assert again != first
    assert count == 0


@pytest.mark.postgres
async def test_a_write_cancelled_mid_statement_leaves_the_next_write_a_good_connection(
    pg_database: Database,
) -> None:
    """A write cancelled while the server runs its statement (a request cut off at shutdown)
    leaves its connection in an unknown state: the next write does not reuse it."""
    first = await pg_database.write(_backend)
    slow = asyncio.create_task(
        pg_database.write(lambda connection: connection.execute(text("SELECT pg_sleep(5)")))
    )
    await asyncio.sleep(0.3)
    slow.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await slow

    began = time.monotonic()
    again = await pg_database.write(_backend)
    count = await pg_database.write(_count)
    took = time.monotonic() - began

    assert again != first
    assert count == 0
    assert took < 3  # not waiting for the cancelled statement to finish
