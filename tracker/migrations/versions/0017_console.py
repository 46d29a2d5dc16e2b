"""unmatched attendance events an organiser dismissed (the organiser console, issue 12)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:00:00

An event no physician or session will ever match (a guest, a test connection) stays in the
database, as every fact does; ``dismissed`` only takes it off the organiser's list of events to
match. Existing events are not dismissed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_event") as batch:
        batch.add_column(
            sa.Column("dismissed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance_event") as batch:
        batch.drop_column("dismissed")
