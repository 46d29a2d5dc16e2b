"""Learner-completion export for board reporting (ACCME PARS learner upload fields).

One row per completion and board: a physician with two board ids (ABIM and ABP) gets two rows
for one session, each naming its board and that board's id in separate columns, as a PARS
learner record does; a physician with no board id gets one row with both empty. A board's MOC
credit type is the one coded ``<BOARD>_MOC`` (``ABIM_MOC`` for ABIM): its column holds a value
only on the row of that board, never for a physician without that board's id.

Two layouts hold the same columns:

* ``csv``: RFC 4180 with CRLF, UTF-8 with a byte-order mark so that spreadsheets read accents;
* ``tab``: tab-delimited text (the PARS batch-upload format), UTF-8 without a byte-order mark,
  CRLF, no quoting: a tab, line break or control character inside a value becomes a space.

In both, a cell that a spreadsheet would run as a formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import iso_z
from schedules.models import Occurrence, Series
from tracker.domain import claims, revocations
from tracker.domain.awards import claimed_figures
from tracker.domain.credit_rules import rules_by_session
from tracker.domain.localtime import session_date
from tracker.domain.models import Award, CreditType, Physician

Layout = Literal["csv", "tab"]
BASE_COLUMNS = (
    "completion_date",
    "first_name",
    "last_name",
    "npi",
    "rpps",
    "birth_month",
    "birth_day",
    "license_state",
    "license_number",
    "board",
    "board_id",
    "activity_id",
    "email",
    "series_title",
    "occurrence_id",
    "session_start",
    "minutes",
)
MOC_SUFFIX = "_MOC"
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _tab_cell(value: str) -> str:
    """A value that cannot split a tab-delimited record (no quoting there)."""
    return _cell(_BREAKS.sub(" ", value))


def moc_board(code: str) -> str | None:
    """The board a MOC credit type belongs to (``ABIM_MOC`` -> ``ABIM``), else ``None``."""
    return code.removesuffix(MOC_SUFFIX) if code.endswith(MOC_SUFFIX) else None


def _credit(code: str, board: str | None, credits: dict[str, float]) -> str:
    """A credit type's cell: what was earned (``0`` included) where the session designated
    that type; empty where it did not (a 0 would read as designated and not earned), and for
    a MOC type of a board the physician holds no id of."""
    owner = moc_board(code)
    if owner is not None and owner != board:
        return ""  # no MOC value for a physician without that board's id
    return f"{credits[code]:g}" if code in credits else ""


#: How many awards one read of the export takes: a batch's rows are written out before the next
#: is read, so an export of any size holds one batch in memory.
BATCH = 1000
#: The export's order, ending with a unique pair (an award is one occurrence and one physician).
ORDER = (
    col(Occurrence.start),
    col(Occurrence.id),
    col(Physician.last_name),
    col(Physician.id),
)
ExportKey = tuple[datetime, int, str, int]


async def completion_header(session: AsyncSession) -> list[str]:
    """The export's columns: the PARS fields, then one per credit type."""
    codes = sorted((await session.exec(select(CreditType.code))).all())
    return [*BASE_COLUMNS, *codes]


def _after(key: ExportKey) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in :data:`ORDER`."""
    clause: ColumnElement[bool] = ORDER[-1] > key[-1]
    for column, value in reversed(list(zip(ORDER[:-1], key[:-1], strict=True))):
        clause = or_(column > value, and_(column == value, clause))
    return clause


async def _claimed(
    session: AsyncSession, found: Sequence[tuple[Award, Occurrence, Series, Physician]]
) -> dict[int, tuple[int, dict[str, float]]]:
    """Awards of series that require claims, by id: the seconds and credit claimed (what the
    certificate says), or nothing at all while the physician has not claimed (no completion
    to report yet)."""
    pairs = [
        (award.occurrence_id, award.physician_id)
        for award, _, series, _ in found
        if series.claim_required
    ]
    if not pairs:
        return {}
    made = await claims.claims_among(session, pairs)
    result: dict[int, tuple[int, dict[str, float]]] = {}
    rules = await rules_by_session(session, sorted({o for o, _ in pairs}))
    for award, occurrence, series, _ in found:
        if not series.claim_required:
            continue
        claim = made.get((award.occurrence_id, award.physician_id))
        if claim is None or claim.claimed_at is None:
            result[award.id or 0] = (0, {})
            continue
        result[award.id or 0] = claimed_figures(
            claim, award, occurrence, rules[award.occurrence_id]
        )
    return result


@dataclass(frozen=True)
class Period:
    """Which sessions an export holds: from ``start_from`` until ``until`` (instants in UTC,
    ``until`` left out), and from ``first_day`` to ``last_day`` (both in): the session's own
    date where it is held, so that a session at 00:30 in Paris on 1 December, or at 08:00 in
    Nouméa, is in December's export, whose rows and certificates date it in December."""

    start_from: datetime | None = None
    until: datetime | None = None
    first_day: date | None = None
    last_day: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """What the query can select by: the instants, and the days widened to every offset
        from UTC (-12 to +14 hours) for :meth:`holds` to finish."""
        found: list[ColumnElement[bool]] = []
        if self.start_from is not None:
            found.append(col(Occurrence.start) >= self.start_from)
        if self.until is not None:
            found.append(col(Occurrence.start) < self.until)
        if self.first_day is not None:
            found.append(col(Occurrence.start) >= _midnight(self.first_day) - timedelta(days=1))
        if self.last_day is not None:
            found.append(col(Occurrence.start) < _midnight(self.last_day) + timedelta(days=2))
        return found

    def holds(self, held_on: date) -> bool:
        """Whether a session of this date is within the days asked."""
        return (self.first_day is None or self.first_day <= held_on) and (
            self.last_day is None or held_on <= self.last_day
        )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def completion_batch(
    session: AsyncSession,
    header: list[str],
    *,
    period: Period,
    after: ExportKey | None = None,
    limit: int | None = None,
) -> tuple[list[list[str]], ExportKey | None]:
    """The rows of the next ``limit`` awards after ``after`` (final, not revoked, with some
    credit, for physicians who consented to board reporting, one row per board id), and the
    key to read the batch after them (``None``: this was the last); ``limit``: :data:`BATCH`.
    ``period`` selects sessions (:class:`Period`); a row's ``completion_date`` is its session's
    date where it is held, as its certificate gives it."""
    codes = header[len(BASE_COLUMNS) :]
    limit = limit or BATCH
    query = (
        select(Award, Occurrence, Series, Physician)
        .join(Occurrence, col(Occurrence.id) == col(Award.occurrence_id))
        .join(Series, col(Series.id) == col(Occurrence.series_id))
        .join(Physician, col(Physician.id) == col(Award.physician_id))
        .where(
            col(Award.final).is_(True),
            col(Physician.consent_board_reporting).is_(True),
            # a revoked session is no completion (tracker.domain.revocations)
            not_(revocations.session_revoked(Award.occurrence_id, Award.physician_id)),
        )
        .order_by(*ORDER)
        .limit(limit + 1)
    )
    for condition in period.conditions():
        query = query.where(condition)
    if after is not None:
        query = query.where(_after(after))
    found = list((await session.exec(query)).all())
    more = len(found) > limit
    found = found[:limit]
    rows: list[list[str]] = []
    claimed = await _claimed(session, found)
    for award, occurrence, series, physician in found:
        seconds, credits = claimed.get(award.id or 0, (award.seconds, award.credits))
        held_on = session_date(occurrence.start, series.timezone)
        if not any(amount > 0 for amount in credits.values()) or not period.holds(held_on):
            continue
        boards: Sequence[tuple[str | None, str]] = sorted(physician.board_ids.items()) or [
            (None, "")
        ]
        for board, board_id in boards:
            rows.append(
                [
                    held_on.isoformat(),
                    physician.first_name,
                    physician.last_name,
                    physician.npi or "",
                    physician.rpps or "",
                    str(physician.birth_month or ""),
                    str(physician.birth_day or ""),
                    physician.license_state or "",
                    physician.license_number or "",
                    board or "",
                    board_id,
                    series.pars_activity_id or "",
                    physician.email,
                    series.title,
                    str(occurrence.id),
                    iso_z(occurrence.start),
                    f"{seconds / 60:.2f}",
                    *(_credit(code, board, credits) for code in codes),
                ]
            )
    if not more:
        return rows, None
    _, occurrence, _, physician = found[-1]
    return rows, (occurrence.start, occurrence.id or 0, physician.last_name, physician.id or 0)


def render_header(header: list[str], layout: Layout) -> str:
    """The file's first line (after a byte-order mark in CSV)."""
    return (BOM if layout == "csv" else "") + render_rows([header], layout)


def render_rows(rows: list[list[str]], layout: Layout) -> str:
    """Lines of the file: see the module docstring for what each layout guarantees."""
    if layout == "tab":
        return "".join("\t".join(_tab_cell(cell) for cell in row) + "\r\n" for row in rows)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerows([_cell(cell) for cell in row] for row in rows)
    return output.getvalue()


async def completions_csv(
    session: AsyncSession, *, period: Period | None = None, layout: Layout = "csv"
) -> str:
    """The whole completions export as text in ``layout`` (the HTTP export streams the same
    batches instead of building the text)."""
    header = await completion_header(session)
    parts = [render_header(header, layout)]
    after: ExportKey | None = None
    while True:
        rows, after = await completion_batch(
            session, header, period=period or Period(), after=after
        )
        parts.append(render_rows(rows, layout))
        if after is None:
            return "".join(parts)
