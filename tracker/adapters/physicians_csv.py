"""The physicians CSV: a header naming the columns, then one physician per record, each named by
the line it starts on. Cells become the values of :class:`tracker.domain.schemas.PhysicianCreate`
(validated by the import, not here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracker.adapters.csvfiles import Record, Unreadable, records, separator
from tracker.errors import ColumnsError, RowError

PHYSICIAN_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "timezone",
    "language",
    "npi",
    "rpps",
    "board_ids",
    "birth_month",
    "birth_day",
    "license_state",
    "license_number",
    "consent_board_reporting",
)
REQUIRED_COLUMNS = frozenset({"first_name", "last_name", "email"})
_YES = frozenset({"1", "yes", "true", "oui", "y"})


def physician_rows(text: str) -> Iterator[tuple[int, dict[str, str]] | RowError]:
    """``(line, row)`` for every non-empty data row, or a :class:`RowError` for a row that cannot
    be read; the header names the columns, and a row is named by the line it starts on.

    Cells are separated by commas, semicolons or tabs, as the header line shows; column names
    are read whatever their case, with spaces or hyphens for underscores (``First Name``).
    A header without the required columns raises :class:`RowError` at once."""
    rows = records(text, delimiter=separator(text))
    items = (item for item in rows if not (isinstance(item, Record) and item.blank))
    header = next(items, None)
    if isinstance(header, Unreadable):
        raise RowError(header.line, header.reason, header.kind)
    if header is None:
        raise ColumnsError(1, sorted(REQUIRED_COLUMNS), empty=True)
    names = [_column(name) for name in header.cells]
    missing = REQUIRED_COLUMNS - set(names)
    if missing:
        unknown = [name for name in names if name and name not in PHYSICIAN_COLUMNS]
        raise ColumnsError(header.line, sorted(missing), unknown)
    for item in items:
        if isinstance(item, Unreadable):
            yield RowError(item.line, item.reason, item.kind)
        else:
            # short rows leave columns out, cells beyond the header are ignored (as DictReader did)
            yield item.line, {n: c.strip() for n, c in zip(names, item.cells, strict=False)}


def _column(name: str) -> str:
    """A header cell as a column name: ``First Name`` and ``FIRST-NAME`` are ``first_name``."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def physician_values(row: dict[str, str]) -> dict[str, Any]:
    """The values a row gives, ready for validation: only its non-empty known cells (an empty
    cell leaves the stored value alone), ``board_ids`` as a mapping, the consent as a bool."""
    values: dict[str, Any] = {key: row[key] for key in PHYSICIAN_COLUMNS if row.get(key)}
    if "board_ids" in values:
        pairs = [part.split(":", 1) for part in values["board_ids"].split(";") if part.strip()]
        values["board_ids"] = {
            k.strip(): v.strip() for k, v in (p if len(p) == 2 else (p[0], "") for p in pairs)
        }
    if "consent_board_reporting" in values:
        values["consent_board_reporting"] = values["consent_board_reporting"].lower() in _YES
    return values
