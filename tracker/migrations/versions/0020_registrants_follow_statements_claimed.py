"""Zoom registrants follow their physician; monthly statements claimed once

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 07:00:00

``zoom_registrant`` keeps the email and name Zoom holds (``email``, ``first_name``,
``last_name``), so that a physician whose address or name changes is registered again under
the new one and the old registrant is cancelled with the address Zoom knows; its
``physician_id`` becomes nullable with ``ON DELETE SET NULL``, so that a deleted physician's
registrants stay behind long enough to be cancelled at Zoom (a cascade took them away
unseen). Existing rows are taken to hold the physician's current email and name.

``statement_run``: one row per (month, physician), claimed under a lease, so that with
``tracker serve --workers N`` one process composes each statement (and another takes it over
when that process dies).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_COMMON = (
    "id, series_id, physician_id, zoom_webinar_id, state, registrant_id, join_url, attempts, "
    "error, next_attempt_at, lease_owner, lease_until, updated_at"
)


def _registrant_table(name: str, unique: str, *, follows: bool) -> None:
    physician = sa.Column(
        "physician_id",
        sa.Integer(),
        sa.ForeignKey("physician.id", ondelete="SET NULL" if follows else "CASCADE"),
        nullable=follows,
    )
    extra = (
        [
            sa.Column("email", sa.String(length=320), nullable=True),
            sa.Column("first_name", sa.String(length=100), nullable=True),
            sa.Column("last_name", sa.String(length=100), nullable=True),
        ]
        if follows
        else []
    )
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "series_id",
            sa.Integer(),
            sa.ForeignKey("series.id", ondelete="CASCADE"),
            nullable=False,
        ),
        physician,
        sa.Column("zoom_webinar_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("registrant_id", sa.String(length=64), nullable=True),
        sa.Column("join_url", sa.String(length=2000), nullable=True),
        *extra,
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("series_id", "physician_id", name=unique),
    )


def _swap(*, follows: bool) -> None:
    """Rebuild ``zoom_registrant`` (a foreign key's action cannot be altered in place on
    SQLite): a new table, the rows copied, the old one dropped, the new one renamed."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL names a unique constraint's index in the schema: the old one holds the name
    unique = "uq_zoom_registrant_new" if postgresql else "uq_zoom_registrant"
    _registrant_table("zoom_registrant_new", unique, follows=follows)
    columns = _COMMON + (", email, first_name, last_name" if follows else "")
    source = (
        f"SELECT {', '.join('r.' + c.strip() for c in _COMMON.split(','))}, "
        "p.email, p.first_name, p.last_name "
        "FROM zoom_registrant r LEFT JOIN physician p ON p.id = r.physician_id"
        if follows
        else f"SELECT {_COMMON} FROM zoom_registrant WHERE physician_id IS NOT NULL"
    )
    op.execute(f"INSERT INTO zoom_registrant_new ({columns}) {source}")  # only constants
    op.drop_table("zoom_registrant")
    op.rename_table("zoom_registrant_new", "zoom_registrant")
    if postgresql:
        op.execute(
            "ALTER TABLE zoom_registrant RENAME CONSTRAINT uq_zoom_registrant_new "
            "TO uq_zoom_registrant"
        )
        op.execute(
            "SELECT setval(pg_get_serial_sequence('zoom_registrant', 'id'), "
            "COALESCE((SELECT MAX(id) FROM zoom_registrant), 0) + 1, false)"
        )
    op.create_index("ix_zoom_registrant_physician_id", "zoom_registrant", ["physician_id"])
    op.create_index(
        "ix_zoom_registrant_registrant", "zoom_registrant", ["zoom_webinar_id", "registrant_id"]
    )
    op.create_index("ix_zoom_registrant_state", "zoom_registrant", ["state", "next_attempt_at"])


def upgrade() -> None:
    _swap(follows=True)
    op.create_table(
        "statement_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column(
            "physician_id",
            sa.Integer(),
            sa.ForeignKey("physician.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("period", "physician_id", name="uq_statement_run"),
    )
    op.create_index("ix_statement_run_status", "statement_run", ["status", "period"])


def downgrade() -> None:
    op.drop_table("statement_run")
    _swap(follows=False)
