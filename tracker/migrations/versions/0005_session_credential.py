"""web sessions bound to the credential that opened them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 08:00:00

A session remembers the hash of the token it was opened with; rotating the token (which changes
the hash) ends every session it opened. Sessions open at upgrade time keep working: they are
bound to their subject's current token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_hash", sa.String(length=64), nullable=True))
    for kind in ("physician", "organizer"):  # the session kind is its subject's table
        op.execute(
            "UPDATE web_session SET credential_hash = "
            f"(SELECT token_hash FROM {kind} WHERE {kind}.id = web_session.subject_id) "
            f"WHERE kind = '{kind}'"
        )


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_column("credential_hash")
