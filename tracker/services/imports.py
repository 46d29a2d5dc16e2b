"""Bulk imports: a physicians CSV and Zoom participant reports. Bad rows are reported, good
rows kept, and a second run of the same file changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError
from tracker.adapters.csvfiles import Record, Unreadable, records
from tracker.domain.physicians import (
    create_physician,
    email_key,
    physician_by_email,
    update_physician,
)
from tracker.domain.schemas import PhysicianCreate, PhysicianUpdate
from tracker.domain.validation import validation_messages
from tracker.errors import RowError

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
Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class ImportReport:
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    errors: list[RowError] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)


def physician_rows(text: str) -> Iterator[tuple[int, dict[str, str]] | RowError]:
    """``(line, row)`` for every non-empty data row, or a :class:`RowError` for a row that cannot
    be read; the header names the columns, and a row is named by the line it starts on."""
    items = (item for item in records(text) if not (isinstance(item, Record) and item.blank))
    header = next(items, None)
    if isinstance(header, Unreadable):
        raise RowError(header.line, header.reason)
    names = [name.strip() for name in header.cells] if header else []
    missing = {"first_name", "last_name", "email"} - set(names)
    if missing:
        raise RowError(
            header.line if header else 1,
            f"the header lacks the column(s): {', '.join(sorted(missing))}",
        )
    for item in items:
        if isinstance(item, Unreadable):
            yield RowError(item.line, item.reason)
        else:
            # short rows leave columns out, cells beyond the header are ignored (as DictReader did)
            yield item.line, {n: c.strip() for n, c in zip(names, item.cells, strict=False)}


def _values(row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {key: row[key] for key in PHYSICIAN_COLUMNS if row.get(key)}
    if "board_ids" in values:
        pairs = [part.split(":", 1) for part in values["board_ids"].split(";") if part.strip()]
        values["board_ids"] = {
            k.strip(): v.strip() for k, v in (p if len(p) == 2 else (p[0], "") for p in pairs)
        }
    if "consent_board_reporting" in values:
        values["consent_board_reporting"] = values["consent_board_reporting"].lower() in (
            "1",
            "yes",
            "true",
            "oui",
            "y",
        )
    return values


async def import_physician(
    session: AsyncSession, line: int, row: dict[str, str], *, now: datetime
) -> tuple[Outcome, str | None]:
    """Create or update one physician; returns the outcome and a new token when created."""
    values = _values(row)
    try:
        data = PhysicianCreate.model_validate(values)
    except ValidationError as exc:
        first = validation_messages(exc)[0]
        raise RowError(line, f"{first['field']}: {first['message']}") from None
    existing = await physician_by_email(session, data.email)
    try:
        if existing is None:
            _, token = await create_physician(session, data, now=now)
            await session.commit()
            return "created", token
        change = PhysicianUpdate.model_validate(
            {k: v for k, v in data.model_dump().items() if k in values}
        )
        differing = {
            k
            for k, v in change.model_dump(exclude_unset=True).items()
            if getattr(existing, k) != (email_key(v) if k == "email" else v)
        }
        if not differing:
            return "unchanged", None
        await update_physician(
            session,
            existing.id or 0,
            PhysicianUpdate.model_validate({k: getattr(change, k) for k in differing}),
            now=now,
        )
        await session.commit()
        return "updated", None
    except InvalidInputError as exc:
        await session.rollback()
        raise RowError(line, str(exc)) from None
