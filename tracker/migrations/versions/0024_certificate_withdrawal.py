"""a certificate withdrawn because the corrected award earns no credit

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 02:30:00

``certificate.withdrawn_at`` / ``withdrawn_reason``: the session's latest certificate stops
attesting credit when a late fact, a claim capped below the minimum or a cancellation leaves
the award with none (:mod:`tracker.domain.withdrawals`). Unlike a revocation, a withdrawal is
not for good: when credit comes back, a new version is issued and the withdrawn one names it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawn_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_at")
