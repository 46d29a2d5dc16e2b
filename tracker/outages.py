"""Telling "the database cannot be reached right now" (503, try again) from a bug (500).

An outage shows up as: a refused or broken socket (``OSError``), a pool with no free connection
(SQLAlchemy's ``TimeoutError``), a connection SQLAlchemy found dead (``connection_invalidated``),
PostgreSQL refusing or cutting connections (SQLSTATE class 08, 57P0x, 53300, "not currently
accepting connections"), or SQLite unable to open, lock or read its file. A failing query for
any other reason (a missing table: SQLite calls that an ``OperationalError`` too) is a bug.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

#: Seconds a client should wait before trying again.
RETRY_AFTER = 5
#: File-system errors are not outages of the database server: they stay bugs.
_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
_PG_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_SQLITE_CODES = (
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOTADB",
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver error SQLAlchemy wraps, and their causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]


def _is_outage(item: BaseException) -> bool:
    if isinstance(item, PoolTimeoutError):
        return True
    if isinstance(item, DBAPIError) and item.connection_invalidated:
        return True
    if isinstance(item, OSError) and not isinstance(item, _FILE_ERRORS):
        return True  # refused, reset, unreachable, timed out (TimeoutError is an OSError)
    if isinstance(item, sqlite3.Error):
        return str(getattr(item, "sqlite_errorname", "")).startswith(_SQLITE_CODES)
    sqlstate = getattr(item, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_SQLSTATES):
        return True
    return sqlstate == "55000" and "not currently accepting connections" in str(item)


def database_unreachable(error: BaseException) -> BaseException | None:
    """The part of ``error`` that says the database cannot be reached now, or ``None``."""
    return next((item for item in _chain(error) if _is_outage(item)), None)
