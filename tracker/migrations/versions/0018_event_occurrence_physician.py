"""attendance events indexed by occurrence and physician together (issue 16 point 2)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 06:20:00

Finalisation reads a session's events one batch of physicians at a time
(``occurrence_id = ? AND physician_id BETWEEN ? AND ?``). With an index on the occurrence
alone, each batch scanned every event of the session, so a session of N attendees cost
N / 1,000 full scans. The composite index serves that read, the platform's end events
(``physician_id IS NULL``) and every read by occurrence alone (its first column), so it
replaces the single-column one: no more index to maintain per stored event than before.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_event") as batch:
        batch.create_index(
            "ix_attendance_event_occurrence_physician", ["occurrence_id", "physician_id"]
        )
        batch.drop_index("ix_attendance_event_occurrence_id")


def downgrade() -> None:
    with op.batch_alter_table("attendance_event") as batch:
        batch.create_index("ix_attendance_event_occurrence_id", ["occurrence_id"])
        batch.drop_index("ix_attendance_event_occurrence_physician")
