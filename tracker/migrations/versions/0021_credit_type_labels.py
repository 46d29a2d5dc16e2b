"""Credit type labels per language

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-14 07:00:00

``credit_type.labels`` holds ``{language: label}``: a French reader saw "ABIM MOC points" and
an English one "heures DPC", because each type had one label in one language. The seeded types
get a French and an English label; ``label`` stays as the fallback for a type created with one
label only. The AMA's credit name is a trademark the AMA requires verbatim, in English, in
every language.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

LABELS = {
    "AMA_PRA_1": {
        "fr": "AMA PRA Category 1 Credit(s)™",
        "en": "AMA PRA Category 1 Credit(s)™",
    },
    "ABIM_MOC": {"fr": "points MOC de l'ABIM", "en": "ABIM MOC points"},
    "DPC_HOURS": {"fr": "heures DPC", "en": "DPC hours"},
    "SMC_HOURS": {"fr": "heures de crédit SMC", "en": "SMC credit hours"},
}


def upgrade() -> None:
    # Not a batch (see 0013): the column is added in place on both engines.
    op.add_column(
        "credit_type",
        sa.Column("labels", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    credit_type = sa.table(
        "credit_type", sa.column("code", sa.String), sa.column("labels", sa.JSON)
    )
    connection = op.get_bind()
    for code, labels in LABELS.items():
        connection.execute(
            credit_type.update().where(credit_type.c.code == code).values(labels=labels)
        )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not a batch copy (see 0015).
    op.drop_column("credit_type", "labels")
