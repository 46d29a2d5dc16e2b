"""Each text's length is declared once (``schedules.limits``, ``tracker.domain.limits``): the
API refuses exactly what the column could not hold, on every engine."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import String
from sqlmodel import SQLModel

from schedules.models import Series
from schedules.schemas import SeriesCreate, SeriesUpdate
from tracker.domain.models import AttendanceEvent, Physician
from tracker.domain.schemas import AttendanceEventIn, PhysicianCreate, PhysicianUpdate

pytestmark = pytest.mark.any_engine


def _max_length(schema: type[BaseModel], field: str) -> int:
    """The ``maxLength`` the API documents (and enforces) for ``field``."""
    definition: dict[str, Any] = schema.model_json_schema()["properties"][field]
    options = definition.get("anyOf", [definition])
    lengths = [option["maxLength"] for option in options if "maxLength" in option]
    assert lengths, f"{schema.__name__}.{field} has no maxLength"
    return int(lengths[0])


def _column_length(model: type[SQLModel], field: str) -> int:
    column_type = model.__table__.c[field].type  # type: ignore[attr-defined]
    assert isinstance(column_type, String) and column_type.length is not None
    return int(column_type.length)


@pytest.mark.parametrize(
    ("schemas", "model", "field"),
    [
        ((SeriesCreate, SeriesUpdate), Series, "title"),
        ((SeriesCreate, SeriesUpdate), Series, "timezone"),
        ((SeriesCreate, SeriesUpdate), Series, "rrule"),
        ((SeriesCreate, SeriesUpdate), Series, "join_url"),
        ((PhysicianCreate, PhysicianUpdate), Physician, "first_name"),
        ((PhysicianCreate, PhysicianUpdate), Physician, "last_name"),
        ((PhysicianCreate, PhysicianUpdate), Physician, "email"),
        ((PhysicianCreate, PhysicianUpdate), Physician, "timezone"),
        ((AttendanceEventIn,), AttendanceEvent, "email"),
        ((AttendanceEventIn,), AttendanceEvent, "connection_id"),
    ],
)
def test_the_api_accepts_exactly_what_the_column_holds(
    schemas: tuple[type[BaseModel], ...], model: type[SQLModel], field: str
) -> None:
    for schema in schemas:
        assert _max_length(schema, field) == _column_length(model, field)
