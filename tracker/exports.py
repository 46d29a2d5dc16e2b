"""Learner-completion export for board reporting (ACCME PARS fields), as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import iso_z
from schedules.models import Occurrence, Series
from tracker.models import Award, CreditType, Physician

BASE_COLUMNS = (
    "completion_date",
    "first_name",
    "last_name",
    "npi",
    "board_ids",
    "rpps",
    "birth_month",
    "birth_day",
    "email",
    "series_title",
    "occurrence_id",
    "session_start",
    "minutes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def completions_csv(
    session: AsyncSession, *, start_from: datetime | None, until: datetime | None
) -> str:
    """Final awards with some credit, for physicians who consented to board reporting.

    ``start_from`` / ``until`` select sessions by their start.
    """
    codes = sorted((await session.exec(select(CreditType.code))).all())
    query = (
        select(Award, Occurrence, Series, Physician)
        .join(Occurrence, col(Occurrence.id) == col(Award.occurrence_id))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .join(Physician, col(Physician.id) == col(Award.physician_id))
        .where(col(Award.final).is_(True), col(Physician.consent_board_reporting).is_(True))
        .order_by(col(Occurrence.start), col(Physician.last_name), col(Physician.id))
    )
    if start_from is not None:
        query = query.where(Occurrence.start >= start_from)
    if until is not None:
        query = query.where(Occurrence.start < until)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow([*BASE_COLUMNS, *codes])
    for award, occurrence, series, physician in (await session.exec(query)).all():
        if not any(amount > 0 for amount in award.credits.values()):
            continue
        local_end = occurrence.end.astimezone(ZoneInfo(series.timezone))
        writer.writerow(
            [
                local_end.date().isoformat(),
                _cell(physician.first_name),
                _cell(physician.last_name),
                physician.npi or "",
                _cell(";".join(f"{k}:{v}" for k, v in sorted(physician.board_ids.items()))),
                physician.rpps or "",
                physician.birth_month or "",
                physician.birth_day or "",
                _cell(physician.email),
                _cell(series.title),
                occurrence.id,
                iso_z(occurrence.start),
                f"{award.seconds / 60:.2f}",
                *(f"{award.credits.get(code, 0.0):g}" for code in codes),
            ]
        )
    return output.getvalue()
