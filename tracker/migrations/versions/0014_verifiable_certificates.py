"""verifiable certificates: revocation, and the provider's Ed25519 signing key

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00

``certificate.revoked_at``: an organiser revoked the certificate (``POST
/api/certificates/{code}/revocation``); its verification page says "revoked" and its credential's
bit is set in the status list. ``signing_key`` holds the key that signs the Open Badges
credentials, the status list and nothing else: one row per name, the private key as PKCS #8
PEM. The first process to start inserts one (``INSERT … ON CONFLICT DO NOTHING``) and every
process then reads the stored row, so all of them sign with the same key.

Certificate codes are already 140 random bits in 31 characters (``String(32)``): the column
needs no widening, and older 14-character codes keep working.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("certificate", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "signing_key",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("private_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signing_key")
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("revoked_at")
