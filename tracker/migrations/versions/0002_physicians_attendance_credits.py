"""physicians attendance credits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:48:57.058699
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "physician",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("board_ids", sa.JSON(), nullable=False),
        sa.Column("birth_month", sa.Integer(), nullable=True),
        sa.Column("birth_day", sa.Integer(), nullable=True),
        sa.Column("consent_board_reporting", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("physician", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_physician_npi"), ["npi"], unique=False)
        batch_op.create_index(batch_op.f("ix_physician_rpps"), ["rpps"], unique=False)

    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["physician_id"], ["physician.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("series_id", "physician_id", name="uq_registration"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_physician_id"), ["physician_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registration_series_id"), ["series_id"], unique=False)

    op.create_table(
        "requirement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("credit_type", sa.String(length=32), nullable=False),
        sa.Column("required", sa.Float(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_type"],
            ["credit_type.code"],
        ),
        sa.ForeignKeyConstraint(["physician_id"], ["physician.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("requirement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_requirement_physician_id"), ["physician_id"], unique=False
        )

    op.create_table(
        "attendance_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("connection_id", sa.String(length=200), nullable=True),
        sa.Column("zoom_webinar_id", sa.String(length=32), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("physician_id", sa.Integer(), nullable=True),
        sa.Column("requested_occurrence_id", sa.Integer(), nullable=True),
        sa.Column("requested_physician_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["physician_id"], ["physician.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_attendance_external"),
    )
    with op.batch_alter_table("attendance_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_event_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attendance_event_occurrence_id"), ["occurrence_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_event_physician_id"), ["physician_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_event_series_id"), ["series_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attendance_event_zoom_webinar_id"), ["zoom_webinar_id"], unique=False
        )

    op.create_table(
        "award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("physician_id", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("credits", sa.JSON(), nullable=False),
        sa.Column("anomalies", sa.JSON(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["physician_id"], ["physician.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("occurrence_id", "physician_id", name="uq_award"),
    )
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_award_occurrence_id"), ["occurrence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_award_physician_id"), ["physician_id"], unique=False)

    op.create_table(
        "occurrence_closure",
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["occurrence.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("occurrence_id"),
    )


def downgrade() -> None:
    op.drop_table("occurrence_closure")
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_award_physician_id"))
        batch_op.drop_index(batch_op.f("ix_award_occurrence_id"))

    op.drop_table("award")
    with op.batch_alter_table("attendance_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_event_zoom_webinar_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_event_series_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_event_physician_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_event_occurrence_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_event_email"))

    op.drop_table("attendance_event")
    with op.batch_alter_table("requirement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requirement_physician_id"))

    op.drop_table("requirement")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_series_id"))
        batch_op.drop_index(batch_op.f("ix_registration_physician_id"))

    op.drop_table("registration")
    with op.batch_alter_table("physician", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_physician_rpps"))
        batch_op.drop_index(batch_op.f("ix_physician_npi"))

    op.drop_table("physician")
