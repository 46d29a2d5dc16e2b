"""feeds remember the version of the data their bytes were rendered from

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 11:00:00

With the stamp stored beside the ETag, any process answers a conditional GET of a feed whose
data has not changed with 304 from two aggregate queries, without loading or rendering it.
Rows from before have no stamp: their next request renders once and stores it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stamp", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_state", schema=None) as batch_op:
        batch_op.drop_column("stamp")
