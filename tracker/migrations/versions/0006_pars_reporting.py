"""PARS reporting: an activity id on series, the state medical licence on physicians

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00

All three columns are optional: the completions export writes them when they are known.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pars_activity_id", sa.String(length=50), nullable=True))
    with op.batch_alter_table("physician", schema=None) as batch_op:
        batch_op.add_column(sa.Column("license_state", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("license_number", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("physician", schema=None) as batch_op:
        batch_op.drop_column("license_number")
        batch_op.drop_column("license_state")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("pars_activity_id")
