"""Alembic environment: always handed a connection by ``tracker.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import tracker.domain.models  # noqa: F401  # registers every table on SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `tracker db upgrade`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
