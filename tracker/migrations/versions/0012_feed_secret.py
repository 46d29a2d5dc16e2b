"""a read-only key for each physician's personal calendar feed, kept so it can be shown again

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 01:30:00

The personal feed URL held the personal token, stored only as a hash: the page could not show
it again, and a new one meant a new token. ``physician.feed_secret`` (``cal_`` + 32 random
bytes, url-safe) opens the feed and nothing else; it is stored as it is, so the physician's page
shows it and its subscribe buttons at every visit. Every existing physician gets one here;
feed URLs holding the personal token keep working.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("physician", sa.Column("feed_secret", sa.String(length=64), nullable=True))
    physician = sa.table("physician", sa.column("id", sa.Integer), sa.column("feed_secret"))
    connection = op.get_bind()
    last = 0
    while True:
        ids = (
            connection.execute(
                sa.select(physician.c.id)
                .where(physician.c.id > last, physician.c.feed_secret.is_(None))
                .order_by(physician.c.id)
                .limit(BATCH)
            )
            .scalars()
            .all()
        )
        if not ids:
            break
        connection.execute(
            physician.update()
            .where(physician.c.id == sa.bindparam("row_id"))
            .values(feed_secret=sa.bindparam("secret")),
            [{"row_id": i, "secret": "cal_" + secrets.token_urlsafe(32)} for i in ids],
        )
        last = ids[-1]
    with op.batch_alter_table("physician") as batch:
        batch.create_unique_constraint("uq_physician_feed_secret", ["feed_secret"])


def downgrade() -> None:
    with op.batch_alter_table("physician") as batch:
        batch.drop_constraint("uq_physician_feed_secret", type_="unique")
        batch.drop_column("feed_secret")
