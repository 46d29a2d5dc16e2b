"""each final session keeps the credit rules it was credited under

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 02:20:00

``occurrence_closure.credit_rules`` (JSON): the session's designations (type, maximum, rounding)
and minimum attendance, fixed when its credits became final (:mod:`tracker.domain.credit_rules`).
Sessions already final get the rules their series and the credit types hold now, the closest
record there is of the rules they were credited under (their stored awards were computed with
them unless the series changed since). The downgrade drops the column.

The rules are read here, not imported: a migration must do tomorrow what it does today.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

ROUNDINGS = ("quarter", "floor_quarter", "all_or_nothing")


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    op.add_column("occurrence_closure", sa.Column("credit_rules", sa.JSON(), nullable=True))
    connection = op.get_bind()
    roundings = {
        code: rounding
        for code, rounding in connection.execute(sa.text("SELECT code, rounding FROM credit_type"))
        if rounding in ROUNDINGS
    }
    rows = connection.execute(
        sa.text(
            "SELECT c.occurrence_id, s.credits, s.min_attendance_percent "
            "FROM occurrence_closure c JOIN occurrence o ON o.id = c.occurrence_id "
            "JOIN series s ON s.id = o.series_id"
        )
    ).all()
    closure = sa.table(
        "occurrence_closure",
        sa.column("occurrence_id", sa.Integer()),
        sa.column("credit_rules", sa.JSON()),
    )
    for occurrence_id, credits, percent in rows:
        rules = {
            "credits": [
                {
                    "type": str(c["type"]),
                    "max": c["max"],
                    "rounding": roundings.get(str(c["type"]), "quarter"),
                }
                for c in _loaded(credits) or []
            ],
            "min_attendance_percent": percent,
        }
        connection.execute(
            closure.update()
            .where(closure.c.occurrence_id == occurrence_id)
            .values(credit_rules=rules)
        )


def downgrade() -> None:
    op.drop_column("occurrence_closure", "credit_rules")
