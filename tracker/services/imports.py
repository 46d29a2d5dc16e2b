"""Bulk import of a physicians CSV. Bad rows are reported by line, good rows kept, and a second
run of the same file changes nothing.

The file goes in chunks of :data:`CHUNK_ROWS` rows: each chunk is validated in Python, then
read, inserted and updated with a statement or three and committed, so that progress is durable
and visible as it goes (42,000 physicians in seconds, where one transaction per row took
minutes). Attendance events waiting for these physicians are matched once, at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy.exc import IntegrityError

from schedules.clock import utcnow
from tracker.adapters.physicians_csv import physician_values
from tracker.domain import physicians
from tracker.domain.mailings import enqueue_welcomes
from tracker.domain.physicians import ImportResult, ImportRow, Newcomer
from tracker.errors import DuplicateRowError, RowError
from tracker.services.context import Services
from tracker.services.ingestion import match_later_events

log = logging.getLogger(__name__)

#: Rows per transaction: large enough that a statement carries many rows, small enough that
#: progress shows and a statement stays under the drivers' parameter limits (16 per row).
CHUNK_ROWS = 1000
#: How often a chunk is done again after another process created some of its physicians first.
ATTEMPTS = 5

Item = tuple[int, dict[str, str]] | RowError
RACED = "another import created this physician at the same moment; import the file again"


@dataclass
class ImportReport:
    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0}
    )
    errors: list[RowError] = field(default_factory=list)
    #: every physician this import created (with their token and feed key), in file order
    created: list[Newcomer] = field(default_factory=list)
    #: welcome emails queued (one per physician created, unless the import was told not to)
    welcomes: int = 0

    @property
    def tokens(self) -> list[tuple[str, str]]:
        """``(email, token)`` of every physician this import created, in file order."""
        return [(newcomer.email, newcomer.token) for newcomer in self.created]


def _nothing(_rows: int) -> None:
    """No progress to show."""


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def import_physicians(
    services: Services,
    items: Iterable[Item],
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] = _nothing,
    send_welcome: bool = True,
) -> ImportReport:
    """Create or update the physicians of ``items`` (from
    :func:`tracker.adapters.physicians_csv.physician_rows`); ``progress`` is called with the
    number of items done after each committed chunk. Each physician created gets a welcome
    email, queued in the chunk's transaction (``send_welcome=False``: none)."""
    report = ImportReport()
    first_lines: dict[str, int] = {}  # each address's first line in the file
    #: each NPI's and RPPS number's first line that kept it, and its physician's address
    claimed: dict[tuple[str, str], tuple[int, str]] = {}
    for chunk in _chunks(items, chunk_rows):
        rows: list[ImportRow] = []
        for item in chunk:
            if isinstance(item, RowError):
                report.errors.append(item)
                continue
            line, row = item
            try:
                valid = physicians.import_row(line, physician_values(row))
            except RowError as exc:
                report.errors.append(exc)
                continue
            first = first_lines.setdefault(valid.key, line)
            if first != line:
                report.errors.append(DuplicateRowError(line, first, valid.key))
                continue
            rows.append(valid)
        result, welcomes = await _import_chunk(services, rows, claimed, send_welcome=send_welcome)
        claimed.update(result.claimed)
        report.welcomes += welcomes
        report.errors += result.refused
        if welcomes:
            services.poke()
        for line, outcome in result.outcomes:
            if outcome == "lost":
                report.errors.append(RowError(line, RACED, "raced"))
            else:
                report.counts[outcome] += 1
        report.created += result.created
        progress(len(chunk))
    report.errors.sort(key=lambda error: error.line)
    await match_later_events(services)
    return report


async def _import_chunk(
    services: Services,
    rows: Sequence[ImportRow],
    claimed: Mapping[tuple[str, str], tuple[int, str]],
    *,
    send_welcome: bool,
) -> tuple[ImportResult, int]:
    """One transaction for the chunk (its welcome emails too: a physician is never created
    without theirs, nor welcomed twice). When a concurrent import created some of its physicians
    between our read and our insert, or gave one of its NPI or RPPS numbers to someone else, the
    chunk is done again (the next read finds them); after
    :data:`ATTEMPTS` such races the chunk is kept and only those rows are reported. Returns the
    result and how many welcomes were queued."""
    for attempt in range(1, ATTEMPTS + 1):
        async with services.database.session() as session:
            now = utcnow()
            try:
                result = await physicians.import_physicians(session, rows, now=now, claimed=claimed)
            except IntegrityError:
                # an NPI or RPPS number of these rows was given to another physician between
                # our read and our write: the next read sees it and names the row
                await session.rollback()
                if attempt == ATTEMPTS:
                    raise
                log.info("import: an identifier of this chunk was taken elsewhere meanwhile")
                continue
            if result.lost and attempt < ATTEMPTS:
                await session.rollback()
                log.info("import: %d physicians created elsewhere meanwhile", len(result.lost))
                continue
            welcomes = 0
            if send_welcome:
                welcomes = await enqueue_welcomes(session, services.mail, result.created, now=now)
            await session.commit()
            return result, welcomes
    raise AssertionError("unreachable: the last attempt commits")
