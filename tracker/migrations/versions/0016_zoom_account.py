"""Zoom account integration: registrants kept in step, reconciliation runs, registrant ids on events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 04:00:00

``zoom_registrant``: each registration to a series with a Zoom webinar, as a Zoom registrant
(its id and personal join link once Zoom answered; the state of its sync, leased to a worker).
``zoom_reconciliation``: each reading of an occurrence's participant report (1 h and 24 h after
its end, or asked for), with its status and reason. ``attendance_event.registrant_id``: the
registrant a webinar's event names, matched before the email.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_event") as batch:
        batch.add_column(sa.Column("registrant_id", sa.String(length=64), nullable=True))
    op.create_table(
        "zoom_registrant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "physician_id",
            sa.Integer(),
            sa.ForeignKey("physician.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("zoom_webinar_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("registrant_id", sa.String(length=64), nullable=True),
        sa.Column("join_url", sa.String(length=2000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("series_id", "physician_id", name="uq_zoom_registrant"),
    )
    op.create_index("ix_zoom_registrant_physician_id", "zoom_registrant", ["physician_id"])
    op.create_index(
        "ix_zoom_registrant_registrant", "zoom_registrant", ["zoom_webinar_id", "registrant_id"]
    )
    op.create_index("ix_zoom_registrant_state", "zoom_registrant", ["state", "next_attempt_at"])
    op.create_table(
        "zoom_reconciliation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "occurrence_id",
            sa.Integer(),
            sa.ForeignKey("occurrence.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("round", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("added", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("occurrence_id", "round", name="uq_zoom_reconciliation"),
    )
    op.create_index(
        "ix_zoom_reconciliation_occurrence_id", "zoom_reconciliation", ["occurrence_id"]
    )
    op.create_index("ix_zoom_reconciliation_due", "zoom_reconciliation", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("zoom_reconciliation")
    op.drop_table("zoom_registrant")
    with op.batch_alter_table("attendance_event") as batch:
        batch.drop_column("registrant_id")
