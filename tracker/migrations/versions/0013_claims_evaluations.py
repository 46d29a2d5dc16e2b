"""claims and evaluations: a series may require a claim before its certificates go out

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:40:00

``series.claim_required`` (existing series: false, certificates go out as before) and
``series.claim_window_days`` (30). ``evaluation_question`` holds each series' questions (fr/en,
kept when retired so that old answers keep their question), ``claim`` one claim per session and
physician (its link's code stored hashed), ``evaluation_answer`` the answers of each claim.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not a batch: on SQLite a batch may recreate the table, and dropping the old ``series``
    # with foreign keys on would cascade to every occurrence. Both engines add a column with a
    # constant default in place.
    op.add_column(
        "series",
        sa.Column("claim_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "series",
        sa.Column("claim_window_days", sa.Integer(), nullable=False, server_default="30"),
    )
    op.create_table(
        "evaluation_question",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text_fr", sa.String(length=300), nullable=False),
        sa.Column("text_en", sa.String(length=300), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_evaluation_question_series",
        "evaluation_question",
        ["series_id", "retired", "position"],
    )
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "occurrence_id",
            sa.Integer(),
            sa.ForeignKey("occurrence.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "physician_id",
            sa.Integer(),
            sa.ForeignKey("physician.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("reminder_code_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_minutes", sa.Float(), nullable=True),
        sa.Column("claimed_credits", sa.JSON(), nullable=True),
        sa.UniqueConstraint("occurrence_id", "physician_id", name="uq_claim"),
    )
    op.create_index("ix_claim_physician_id", "claim", ["physician_id"])
    op.create_index("ix_claim_open", "claim", ["claimed_at", "closes_at"])
    op.create_table(
        "evaluation_answer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "claim_id", sa.Integer(), sa.ForeignKey("claim.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "occurrence_id",
            sa.Integer(),
            sa.ForeignKey("occurrence.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "question_id",
            sa.Integer(),
            sa.ForeignKey("evaluation_question.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("yes", sa.Boolean(), nullable=True),
        sa.Column("text", sa.String(length=2000), nullable=True),
        sa.UniqueConstraint("claim_id", "question_id", name="uq_evaluation_answer"),
    )
    op.create_index(
        "ix_evaluation_answer_results", "evaluation_answer", ["occurrence_id", "question_id"]
    )


def downgrade() -> None:
    op.drop_table("evaluation_answer")
    op.drop_table("claim")
    op.drop_table("evaluation_question")
    # Not a batch (see 0011): SQLite 3.35+ drops a column in place.
    op.execute("ALTER TABLE series DROP COLUMN claim_window_days")
    op.execute("ALTER TABLE series DROP COLUMN claim_required")
