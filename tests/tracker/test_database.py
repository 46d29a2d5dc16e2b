"""The database handle counts this process's commits, whichever way they are made, so that
what the process remembers of the data (tracker.services.memo) is dropped by its own writes."""

from __future__ import annotations

from sqlalchemy import Connection, text

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
