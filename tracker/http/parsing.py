"""Small helpers that keep handlers thin: parse the request, serialise the answer."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDict
from pydantic import BaseModel, TypeAdapter, ValidationError

from tracker.domain.bounds import as_utc_or_none, parse_id
from tracker.domain.numerals import plain_decimal
from tracker.http.problems import HTTPProblem, invalid_body

M = TypeVar("M", bound=BaseModel)
_DATETIME = TypeAdapter(datetime)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
#: No body this service reads nests deeper than a few levels; deeper input only costs stack.
MAX_JSON_DEPTH = 32
#: What a decimal field holding anything but a plain decimal number gives the validation: text
#: that no number field reads, so the value is refused next to its field.
NOT_A_NUMBER = "not a number"


def decimal_text(value: str) -> str:
    """A decimal number as typed in a form, in the form the API reads: ``1,5`` -> ``1.5``
    (fullwidth digits read as ASCII ones); empty stays empty; anything else (``1e1``, ``1_0``,
    ``inf``, Arabic-Indic digits, which ``float`` would read) is :data:`NOT_A_NUMBER`. The
    pages' decimal fields are text fields (``inputmode="decimal"``): a browser's number field
    drops a comma it does not expect, and ``1,5`` reached the server as ``15``."""
    if not value.strip():
        return ""
    plain = plain_decimal(value)
    return NOT_A_NUMBER if plain is None else plain


def parse_json(raw: bytes) -> Any:
    """The JSON value in ``raw``, or 400: not JSON, or nested deeper than :data:`MAX_JSON_DEPTH`.

    Deep nesting is refused before anything walks the value recursively (the json module
    itself raises ``RecursionError`` near a thousand levels).
    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPProblem(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        data = None
        depth = MAX_JSON_DEPTH + 1
    else:
        # no deeper than it has brackets (those inside strings included): most bodies, a
        # webhook's say, are shallow by that count alone and are not walked
        brackets = raw.count(b"{") + raw.count(b"[")
        depth = _depth(data) if brackets > MAX_JSON_DEPTH else brackets
    if depth > MAX_JSON_DEPTH:
        raise HTTPProblem(
            400, f"the body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels"
        )
    return data


def _depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level <= MAX_JSON_DEPTH:
            stack.extend((child, level + 1) for child in children)
    return deepest


async def read_json(request: web.Request, model: type[M]) -> M:
    """The body validated as ``model``: 400 if it is not JSON, 422 if it does not fit."""
    raw = await request.read()
    data = parse_json(raw)
    nul = _find_nul(data, "")
    if nul is not None:
        message = "NUL characters are not accepted"
        raise HTTPProblem(422, f"{nul}: {message}", errors=[{"field": nul, "message": message}])
    try:  # strict: a JSON string is not a number, 0 is not false (as the document says)
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise invalid_body(exc) from None


async def read_form(request: web.Request) -> MultiDict[str]:
    """The posted form's text fields: 400 if it cannot be read (a multipart type without a
    boundary, a broken body), 422 if a value holds U+0000 (which PostgreSQL cannot store)."""
    try:
        posted = await request.post()
    except ValueError as exc:  # aiohttp's parsers refuse malformed forms with ValueError
        raise HTTPProblem(400, f"the form cannot be read: {exc}") from None
    form: MultiDict[str] = MultiDict(
        (key, value) for key, value in posted.items() if isinstance(value, str)
    )
    for key, value in form.items():
        if "\x00" in value or "\x00" in key:
            message = "NUL characters are not accepted"
            raise HTTPProblem(422, f"{key}: {message}", errors=[{"field": key, "message": message}])
    return form


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
    """A row id in the path (see :func:`tracker.domain.bounds.parse_id`); anything else is a resource
    that does not exist (404)."""
    value = request.match_info[name]
    parsed = parse_id(value)
    if parsed is None:
        raise HTTPProblem(404, f"no resource with id {value!r}")
    return parsed


def query_day(request: web.Request, name: str) -> date | None:
    """The day a query parameter gives as a plain date (``2026-12-01``), or ``None`` when it
    gives none (absent, empty or an instant: :func:`query_datetime` reads those); 400 for a
    plain date that does not exist."""
    value = request.query.get(name) or ""
    if not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPProblem(400, f"query parameter {name!r} is not a date") from None


def query_datetime(request: web.Request, name: str, *, day_end: bool = False) -> datetime | None:
    """An instant from the query string (RFC 3339: ``2026-01-05T00:00:00Z``) in UTC, or 400;
    empty is absent. Only RFC 3339, as the document says (not "0.5" read as a Unix time), or
    a plain date (``2026-01-05``, a UTC day): its start, or with ``day_end`` (an exclusive
    upper bound, ``to=``) the start of the next day, so that the day itself is included."""
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if _DATE.match(value):
        try:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if day_end else start
        except (ValueError, OverflowError):
            raise HTTPProblem(400, f"query parameter {name!r} is not a date") from None
    if not _RFC3339.match(value):
        if _RFC3339.match(value + "Z"):
            raise HTTPProblem(400, f"query parameter {name!r} needs a timezone, e.g. a trailing Z")
        raise HTTPProblem(400, f"query parameter {name!r} must be an ISO 8601 datetime")
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError:
        raise HTTPProblem(400, f"query parameter {name!r} must be an ISO 8601 datetime") from None
    utc = as_utc_or_none(parsed)
    if utc is None:
        raise HTTPProblem(400, f"query parameter {name!r} is before year 1 or after 9999 in UTC")
    return utc


def pdf_response(code: str, pdf: bytes, *, disposition: str) -> web.Response:
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="certificate-{code}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
