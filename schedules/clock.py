"""Time at the boundary: every datetime inside the service is timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A naive datetime reached code that only accepts aware ones."""

    def __init__(self, value: datetime) -> None:
        super().__init__(f"datetime {value.isoformat()} has no timezone")


def utcnow() -> datetime:
    """The current instant, aware, in UTC, to the second (feeds and HTTP dates use seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(value)
    return value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, as the HTTP API writes every time."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and gives them back aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers give datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], datetime | None]:
        """The driver's value to an aware UTC datetime in one call per value: the column
        type's own parsing (SQLite's text), then :meth:`process_result_value`, with its common
        cases inline (a read of a large session's events parses millions of them; as two
        calls, through TypeDecorator's own processor, they cost half of that read)."""
        parse = self.impl_instance.result_processor(dialect, coltype)
        process_result_value = self.process_result_value

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if parse is not None:
                value = parse(value)
            if value.__class__ is datetime:
                if value.tzinfo is None:  # SQLite: stored as naive UTC
                    return value.replace(tzinfo=UTC)
                if value.tzinfo is UTC:  # asyncpg's timestamptz
                    return value
            return process_result_value(value, dialect)

        return process
