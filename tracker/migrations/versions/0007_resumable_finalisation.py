"""finalisation is resumable: a closure is complete only once every award is final

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00

``completed_at`` is set once every award of the occurrence is final and its certificates are
queued; until then the closure row holds a lease (``lease_owner`` until ``lease_until``) that
the finalising process renews batch by batch, and any process may resume a closure whose lease
has run out. A closure left half done by a crash before this revision (some award still
provisional) is left incomplete, so the planner picks it up again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("occurrence_closure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE occurrence_closure SET completed_at = closed_at WHERE NOT EXISTS "
        "(SELECT 1 FROM award WHERE award.occurrence_id = occurrence_closure.occurrence_id "
        "AND award.final = false)"
    )


def downgrade() -> None:
    with op.batch_alter_table("occurrence_closure", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("completed_at")
