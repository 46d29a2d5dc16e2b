"""awards to recompute are queued durably beside the facts that changed them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:30:00

Attendance is stored and acknowledged first; the awards it changes are recomputed behind the
answer. ``award_pending`` holds one row per (occurrence, physician) whose award is due for
recomputation (physician 0: every attendee of the occurrence), written in the transaction that
stores the events, so a restart resumes what a killed process left. Awards existing before this
revision were computed synchronously: nothing is pending.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "award_pending",
        sa.Column(
            "occurrence_id",
            sa.Integer(),
            sa.ForeignKey("occurrence.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("physician_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("award_pending")
