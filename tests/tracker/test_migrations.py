"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlmodel import SQLModel

import tracker.models  # noqa: F401  # registers every table
from tracker.db import Database
from tracker.migrate import upgrade


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []


async def test_upgrade_twice_is_harmless_and_seeds_credit_types_once(database: Database) -> None:
    await upgrade(database.url)

    async with database.engine.connect() as connection:
        codes = (
            (await connection.execute(text("SELECT code FROM credit_type ORDER BY code")))
            .scalars()
            .all()
        )

    assert codes == ["ABIM_MOC", "AMA_PRA_1", "DPC_HOURS"]
