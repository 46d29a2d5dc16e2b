"""self-registration: open/closed/invite series with a capacity, requests and their waitlist

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 01:30:00

A series says whether people may register on their own (``registration``: ``open``, ``closed``,
``invite``; existing series stay ``closed``, as before) and how many seats it has (``capacity``,
none: unlimited). Series already have a unique, stable slug (from their title), so the public
page ``/series/{slug}`` needs no backfill. ``self_registration`` holds each request: pending until
its emailed one-time code (stored hashed) is used, then registered or waitlisted in order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("series") as batch_op:
        batch_op.add_column(
            sa.Column("registration", sa.String(length=8), nullable=False, server_default="closed")
        )
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
    op.create_table(
        "self_registration",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.Column("rpps", sa.String(length=11), nullable=True),
        sa.Column("consent_board_reporting", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "physician_id",
            sa.Integer(),
            sa.ForeignKey("physician.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_self_registration_email", "self_registration", ["email"])
    op.create_index("ix_self_registration_physician_id", "self_registration", ["physician_id"])
    op.create_index(
        "ix_self_registration_queue",
        "self_registration",
        ["series_id", "status", "confirmed_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("self_registration")
    # Not a batch: on SQLite a batch recreates the table, and dropping the old ``series`` with
    # foreign keys on would cascade to every occurrence. SQLite 3.35+ drops a column in place.
    op.execute("ALTER TABLE series DROP COLUMN capacity")
    op.execute("ALTER TABLE series DROP COLUMN registration")
