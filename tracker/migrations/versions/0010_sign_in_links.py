"""sign-in links by email, and the generation of each physician's personal token

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:30:00

``sign_in_link`` holds the one-time links a physician asks for by email (``POST
/api/sign-in-links``): only the SHA-256 of the code, when it expires, and when it was used (a
link is consumed by one ``UPDATE … WHERE used_at IS NULL``, so two clicks open one session).
``physician.token_generation`` counts the personal tokens a physician has had (1 for the first;
each rotation adds one): the welcome email's outbox key carries it, so a welcome is queued once
per token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # message bytes are base64, quoted-printable or PDF: PostgreSQL's compression of large
        # values (pglz) only spends the server's time on them; 42,000 welcomes are ~180 MB
        op.execute("ALTER TABLE outbox_message ALTER COLUMN raw SET STORAGE EXTERNAL")
    op.add_column(
        "physician",
        sa.Column("token_generation", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_table(
        "sign_in_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column(
            "physician_id",
            sa.Integer(),
            sa.ForeignKey("physician.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox_message ALTER COLUMN raw SET STORAGE EXTENDED")
    op.drop_table("sign_in_link")
    with op.batch_alter_table("physician") as batch:
        batch.drop_column("token_generation")
