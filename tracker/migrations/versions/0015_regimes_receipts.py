"""certificate content per regime, and the credit receipt of each award

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:00:00

Issue 11, points 6 and 7:

- ``credit_type.regime`` says whose certificate fields an award of the type prints: ``ama``
  (AMA_PRA_1), ``dpc`` (DPC_HOURS), ``smc`` (the new ``SMC_HOURS``: an Indian state medical
  council's credit hours, all or nothing as councils allot them); ABIM_MOC prints none of its own;
- ``series.dpc_action_ref`` and ``series.council_accreditation_ref``: the DPC action's
  reference and the council's accreditation reference of the event, printed on certificates;
- ``award.receipt`` (JSON): how a final award was computed (SPEC 7), kept 6 years. Awards made
  final before this revision have none until they are computed again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

REGIMES = {"AMA_PRA_1": "ama", "DPC_HOURS": "dpc", "SMC_HOURS": "smc"}


def upgrade() -> None:
    # Not batches (see 0013): columns added in place on both engines.
    op.add_column("credit_type", sa.Column("regime", sa.String(length=16), nullable=True))
    op.add_column("series", sa.Column("dpc_action_ref", sa.String(length=20), nullable=True))
    op.add_column(
        "series", sa.Column("council_accreditation_ref", sa.String(length=64), nullable=True)
    )
    op.add_column("award", sa.Column("receipt", sa.JSON(), nullable=True))
    credit_type = sa.table(
        "credit_type",
        sa.column("code", sa.String),
        sa.column("label", sa.String),
        sa.column("unit", sa.String),
        sa.column("rounding", sa.String),
        sa.column("regime", sa.String),
    )
    connection = op.get_bind()
    known = set(connection.execute(sa.select(credit_type.c.code)).scalars())
    if "SMC_HOURS" not in known:
        op.bulk_insert(
            credit_type,
            [
                {
                    "code": "SMC_HOURS",
                    "label": "SMC credit hours",
                    "unit": "hours",
                    "rounding": "all_or_nothing",
                    "regime": "smc",
                }
            ],
        )
    for code, regime in REGIMES.items():
        connection.execute(
            credit_type.update().where(credit_type.c.code == code).values(regime=regime)
        )


def downgrade() -> None:
    credit_type = sa.table("credit_type", sa.column("code", sa.String))
    requirement = sa.table("requirement", sa.column("credit_type", sa.String))
    connection = op.get_bind()
    used = connection.execute(
        sa.select(requirement.c.credit_type).where(requirement.c.credit_type == "SMC_HOURS")
    ).first()
    if used is None:
        connection.execute(credit_type.delete().where(credit_type.c.code == "SMC_HOURS"))
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not a batch copy: on SQLite a
    # copy drops and recreates the table, and with foreign keys on, dropping ``series``
    # deletes every occurrence (ON DELETE CASCADE).
    for table, column in (
        ("award", "receipt"),
        ("series", "council_accreditation_ref"),
        ("series", "dpc_action_ref"),
        ("credit_type", "regime"),
    ):
        op.execute(f'ALTER TABLE {table} DROP COLUMN "{column}"')
