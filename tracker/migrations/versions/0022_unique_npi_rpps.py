"""One physician per NPI and per RPPS number

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-14 07:00:00

An NPI or an RPPS number identifies one person; two physicians holding the same one were both
listed under it in the board-reporting export. The plain indexes on ``physician.npi`` and
``physician.rpps`` become unique indexes over the rows that give one (``WHERE ... IS NOT
NULL``, on both engines), the last guard behind the checks of the API, the pages and the
import.

A database that already holds physicians sharing a number is not changed at all: which of them
the number really belongs to is a person's decision, and dropping or moving it here would lose
or misfile data. The upgrade stops with :class:`~tracker.errors.DuplicateIdentifiersError`,
whose one line names each shared number with its physicians (id and email) and says how to fix
them; ``tracker db upgrade`` prints that line, and the next run goes through once they are fixed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracker.errors import DuplicateIdentifiersError

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

COLUMNS = ("npi", "rpps")


def _shared(connection: sa.Connection) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """``(column, number, [(id, email), ...])`` for every number more than one physician holds,
    in column, number and id order."""
    found: list[tuple[str, str, list[tuple[int, str]]]] = []
    for column in COLUMNS:  # only these constants are put into the SQL
        rows = connection.execute(
            sa.text(
                f"SELECT {column}, id, email FROM physician WHERE {column} IN ("
                f"SELECT {column} FROM physician WHERE {column} IS NOT NULL "
                f"GROUP BY {column} HAVING count(*) > 1) ORDER BY {column}, id"
            )
        ).all()
        for number, physician_id, email in rows:
            if not found or found[-1][:2] != (column, number):
                found.append((column, number, []))
            found[-1][2].append((physician_id, email))
    return found


def upgrade() -> None:
    shared = _shared(op.get_bind())
    if shared:
        raise DuplicateIdentifiersError(shared)
    for column in COLUMNS:
        given = sa.text(f"{column} IS NOT NULL")
        op.drop_index(f"ix_physician_{column}", table_name="physician")
        op.create_index(
            f"uq_physician_{column}",
            "physician",
            [column],
            unique=True,
            sqlite_where=given,
            postgresql_where=given,
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"uq_physician_{column}", table_name="physician")
        op.create_index(f"ix_physician_{column}", "physician", [column], unique=False)
