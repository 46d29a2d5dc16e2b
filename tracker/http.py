"""Small helpers that keep handlers thin: parse the request, serialise the answer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from tracker.problems import HTTPProblem, invalid_body

M = TypeVar("M", bound=BaseModel)
_DATETIME = TypeAdapter(datetime)


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body validated as ``model``: 400 if it is not JSON, 422 if it does not fit."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPProblem(400, f"the body is not valid JSON: {exc}") from None
    nul = _find_nul(data, "")
    if nul is not None:
        message = "NUL characters are not accepted"
        raise HTTPProblem(422, f"{nul}: {message}", errors=[{"field": nul, "message": message}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(exc) from None


def _find_nul(value: Any, path: str) -> str | None:
    """The path of the first string holding U+0000, which PostgreSQL cannot store in text."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        key_path = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return key_path
        found = _find_nul(item, key_path)
        if found is not None:
            return found
    return None


def json_response(
    payload: Any, *, status: int = 200, adapter: TypeAdapter[Any] | None = None
) -> web.Response:
    """Serialise a model, a list of models or plain data with pydantic (UTC times end in Z)."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json()
    else:
        text = (adapter or TypeAdapter(type(payload))).dump_json(payload).decode()
    return web.Response(text=text, status=status, content_type="application/json")


def path_id(request: web.Request, name: str = "id") -> int:
    """A numeric path segment; anything else is a resource that does not exist (404)."""
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 18:
        raise HTTPProblem(404, f"no resource with id {value!r}")
    return int(value)


def query_datetime(request: web.Request, name: str) -> datetime | None:
    """An aware datetime from the query string (``2026-01-05T00:00:00Z``), or 400."""
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError:
        raise HTTPProblem(400, f"query parameter {name!r} must be an ISO 8601 datetime") from None
    if parsed.tzinfo is None:
        raise HTTPProblem(400, f"query parameter {name!r} needs a timezone, e.g. a trailing Z")
    return parsed
