"""a certificate keeps the name it was issued to

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 03:20:00

``certificate.holder_name``: the physician's name when the certificate was issued. Its PDF (also
when downloaded again), its public check page and its credential said the physician's name as
it is now, so that after a rename the check page contradicted the PDF the physician had shown
their board. Certificates issued before this revision get the name their physician has now,
the best record there is (the PDFs emailed then carried the name of that day).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("holder_name", sa.String(length=201), nullable=True))
    op.execute(
        "UPDATE certificate SET holder_name = (SELECT physician.first_name || ' ' || "
        "physician.last_name FROM physician WHERE physician.id = certificate.physician_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("certificate") as batch:
        batch.drop_column("holder_name")
