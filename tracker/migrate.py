"""Alembic, driven from the package so that ``tracker db upgrade`` works from any folder."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tracker.db import make_engine
from tracker.errors import SchemaOutdatedError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Several processes may start at once against one PostgreSQL database: one migrates at a time.
ADVISORY_LOCK_ID = 0x7472_6163  # "trac"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def check_schema(engine: AsyncEngine) -> None:
    """Raise :class:`SchemaOutdatedError` unless the database is at the head revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head() or "base"
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    if current != head:
        raise SchemaOutdatedError(current, head)


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()
