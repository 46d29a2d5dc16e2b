"""why an organiser revoked a certificate (the organiser console's revoke action)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 07:00:00

The organiser console revokes a certificate after a confirmation that may say why; the reason
is kept beside ``revoked_at`` for the organisers' pages (the public check says only "revoked").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("revoked_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("revoked_reason")
