"""CSV files handed over by users, read record by record, each named by the line it starts on.

A record the csv module cannot read (a field over its size limit) or one holding U+0000 (which
PostgreSQL cannot store in text, so one such row would abort a whole import there) is reported
by line, and reading goes on with the next line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Record:
    line: int
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


@dataclass(frozen=True)
class Unreadable:
    line: int
    reason: str
    #: what is wrong, for pages that word it in their own language
    kind: Literal["csv", "long", "nul"] = "csv"


def decoded(raw: bytes) -> str:
    """A CSV file's bytes as text: UTF-8 (a byte-order mark dropped), UTF-16 with its
    byte-order mark (Excel's "Unicode text"), else Windows-1252, which Excel writes for "CSV
    (separated by semicolons)" on French and other Western European Windows. Raises
    :class:`UnicodeDecodeError` when the bytes are none of these."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")  # five byte values are undefined there: those still fail


#: Separators a spreadsheet writes between cells: commas, semicolons (where the comma is the
#: decimal sign: French Excel), tabs.
_SEPARATORS = (",", ";", "\t")


def separator(text: str) -> str:
    """The separator of a CSV file whose first line is a header of plain column names: the
    one of :data:`_SEPARATORS` it holds most (a comma when it holds none)."""
    header = text.lstrip("\ufeff").lstrip("\r\n").split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def records(text: str, *, delimiter: str = ",") -> Iterator[Record | Unreadable]:
    """Every record of ``text`` (a leading byte-order mark is ignored), blank ones included."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Unreadable(line, _reason(exc), "long" if "field limit" in str(exc) else "csv")
            continue
        if any("\x00" in cell for cell in cells):
            yield Unreadable(line, "a field holds a NUL character (U+0000)", "nul")
            continue
        yield Record(line, cells)


def _reason(error: csv.Error) -> str:
    if "field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"unreadable CSV: {error}"
