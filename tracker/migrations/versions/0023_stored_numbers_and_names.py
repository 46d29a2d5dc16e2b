"""Stored NPI and RPPS numbers and names written as today's checks write them

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 02:00:00

Rows stored before the checks of December 2026 may hold what those checks now refuse or fold:

- an NPI or RPPS number typed in fullwidth digits (U+FF11 FULLWIDTH DIGIT ONE and its kin), which escaped the
  uniqueness rule and the search and printed so on certificates and in the board export: it is
  written in ASCII digits (NFKC), as the API, the pages and the import now store it. A number
  that NFKC does not turn into ASCII digits (another script's digits) is left as it is;
- a name holding invisible formatting characters, such as a right-to-left override that made
  the certificate's public check page show another name: they are removed from the
  physician's and the self-registration's first and last names (the joiners U+200C and U+200D,
  which Persian and Indic names need, stay). A name that would keep no letter is left as it is.

A fullwidth number that folds to a number another physician holds is not changed at all, like
the shared numbers of 0022: the upgrade stops with
:class:`~tracker.errors.DuplicateIdentifiersError`, whose one line names them and the fix.

The rules are written here, not imported: a migration must do tomorrow what it does today.
Nothing to undo: the downgrade leaves the rows as they are now.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

from tracker.errors import DuplicateIdentifiersError

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

COLUMNS = ("npi", "rpps")
NAMES = (("physician", "first_name"), ("physician", "last_name"))
REQUEST_NAMES = (("self_registration", "first_name"), ("self_registration", "last_name"))
#: Bidirectional embeddings, overrides and isolates (also category Cf, listed for the reader).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NAME_JOINERS = frozenset("\u200c\u200d")


def folded_number(value: str) -> str | None:
    """The number in ASCII digits once folded, when that changes it; else ``None``."""
    folded = unicodedata.normalize("NFKC", value).strip()
    if folded == value or not (folded.isascii() and folded.isdigit()):
        return None
    return folded


def visible_name(value: str) -> str | None:
    """The name without its invisible formatting characters, when it has some and keeps a
    letter; else ``None``."""
    kept = "".join(
        char
        for char in value
        if char in NAME_JOINERS
        or not (char in BIDI_CONTROLS or unicodedata.category(char) in ("Cf", "Co", "Cn", "Cs"))
    ).strip()
    if kept == value or not any(unicodedata.category(char).startswith("L") for char in kept):
        return None
    return kept


def _numbers(connection: sa.Connection) -> list[tuple[str, int, str]]:
    """``(column, id, number)`` of every physician's number to fold. Raises
    :class:`DuplicateIdentifiersError` when a folded number is another physician's."""
    changes: list[tuple[str, int, str]] = []
    shared: list[tuple[str, str, list[tuple[int, str]]]] = []
    for column in COLUMNS:  # only these constants are put into the SQL
        rows = connection.execute(
            sa.text(f"SELECT id, email, {column} FROM physician WHERE {column} IS NOT NULL")
        ).all()
        holders: dict[str, list[tuple[int, str]]] = {}
        for physician_id, email, number in rows:
            holders.setdefault(folded_number(number) or number, []).append((physician_id, email))
        for physician_id, _, number in rows:
            folded = folded_number(number)
            if folded is None:
                continue
            if len(holders[folded]) > 1:
                if not any(group[:2] == (column, folded) for group in shared):
                    shared.append((column, folded, sorted(holders[folded])))
                continue
            changes.append((column, physician_id, folded))
    if shared:
        raise DuplicateIdentifiersError(shared)
    return changes


def upgrade() -> None:
    connection = op.get_bind()
    for column, physician_id, number in _numbers(connection):
        connection.execute(
            sa.text(f"UPDATE physician SET {column} = :number WHERE id = :id"),
            {"number": number, "id": physician_id},
        )
    for table, column in NAMES + REQUEST_NAMES:
        for row_id, name in connection.execute(sa.text(f"SELECT id, {column} FROM {table}")).all():
            kept = visible_name(name)
            if kept is not None:
                connection.execute(
                    sa.text(f"UPDATE {table} SET {column} = :name WHERE id = :id"),
                    {"name": kept, "id": row_id},
                )


def downgrade() -> None:
    """Nothing to undo: the rows stay as the upgrade wrote them."""
