"""OpenAPI 3.1, generated from the route table and the pydantic models the handlers use."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from tracker.http.problems import Problem
from tracker.http.routes import ROUTES, SEE_OTHER, QueryParam, Route

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def _schema(target: Any, components: dict[str, Any], mode: str) -> dict[str, Any]:
    adapter = TypeAdapter(target)
    schema = adapter.json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    if isinstance(target, type) and issubclass(target, BaseModel):
        components[target.__name__] = schema
        return {"$ref": REF.format(model=target.__name__)}
    return schema


PROBLEM = {"schema": {"$ref": REF.format(model="Problem")}}
TEXT = {"schema": {"type": "string"}}
OBJECT = {"schema": {"type": "object"}}  # a JSON document the service does not model
#: Errors of pages: a page (HTML), a short text, or a problem document.
PAGE_ERROR = {"text/html": TEXT, "text/plain": TEXT, "application/problem+json": PROBLEM}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
LOCATION = {"Location": {"description": "Where to go next", "schema": {"type": "string"}}}
#: An optional filter may be sent empty, which means absent.
EMPTY = {"type": "string", "maxLength": 0}


def _error(route: Route, description: str, **extra: Any) -> dict[str, Any]:
    html = route.page or "text/html" in route.also
    content = PAGE_ERROR if html else {"application/problem+json": PROBLEM}
    return {"description": description, "content": content, **extra}


def _query_schema(q: QueryParam) -> dict[str, Any]:
    if q.schema is not None:
        return q.schema
    if q.enum:
        return {"type": "string", "enum": ["", *q.enum]}
    if q.format is None:
        return {"type": "string"}
    return {"anyOf": [{"type": "string", "format": q.format}, EMPTY]}


def _parameters(route: Route) -> list[dict[str, Any]]:
    path = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    query = [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": _query_schema(q),
        }
        for q in route.query
    ]
    return path + query


def _success(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    """The main answer: a model, a media type, a redirect or no content."""
    if 300 <= route.status < 400:
        return {"description": SEE_OTHER, "headers": LOCATION}
    if route.status == 204:
        return {"description": "Done; no content"}
    if isinstance(route.response, str):
        json = route.response == "application/json" or route.response.endswith("+json")
        return {"description": "OK", "content": {route.response: OBJECT if json else TEXT}}
    if route.response is not None:
        schema = _schema(route.response, components, "serialization")
        content = {"application/json": {"schema": schema}, **{m: TEXT for m in route.also}}
        return {"description": "OK", "content": content}
    return {"description": "OK", "content": {"application/json": {}}}


def _responses(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(route.status): _success(route, components)}
    if route.response == "text/calendar":
        responses["304"] = {"description": "Not modified since the given ETag or date"}
    if route.body is not None:
        responses["400"] = _error(route, "The body is not JSON, or nests too deeply")
        responses["413"] = _error(route, "The body is larger than this service accepts")
        responses["422"] = _error(route, "The body does not fit the schema or the rules")
    if route.query:
        responses["400"] = _error(route, "A query parameter is not valid")
    if route.page and route.method == "POST":
        responses["400"] = _error(route, "The form cannot be read")
        responses["422"] = _error(route, "A field holds a NUL character")
    if route.auth in ("organizer", "physician"):
        responses["401"] = _error(route, "Missing or unknown token")
    elif route.auth == "zoom":
        responses["400"] = _error(route, "The body is not a JSON object, or nests too deeply")
        responses["401"] = _error(route, "Missing, stale or wrong Zoom signature")
        responses["422"] = _error(route, "A signed event this service cannot read (logged)")
    if "{" in route.path:
        responses["404"] = _error(route, "No such resource")
    if route.auth in ("organizer", "physician") or route.door is not None:
        responses["429"] = _error(
            route, "Too many failed credentials from this client", headers=RETRY_AFTER
        )
    for status, description in route.responses.items():
        if 300 <= status < 400:
            responses[str(status)] = {"description": description, "headers": LOCATION}
        elif status < 300:
            responses[str(status)] = {**_success(route, components), "description": description}
        else:
            responses[str(status)] = _error(route, description)
    if route.database or route.auth == "zoom":
        what = "The database cannot be reached right now"
        if route.auth == "zoom":
            what += ", or TRACKER_ZOOM_WEBHOOK_SECRET is not set"
        retry = {"Retry-After": {**RETRY_AFTER["Retry-After"], "required": route.auth != "zoom"}}
        responses["503"] = _error(route, what, headers=retry)
    return dict(sorted(responses.items()))


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.handler.__module__.rsplit('.', 1)[-1]}_{route.handler.__name__}",
        "tags": list(route.tags),
    }
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(route.body, components, "validation")}
            },
        }
    if route.auth in ("organizer", "physician"):
        operation["security"] = [{f"{route.auth}Token": []}]
    elif route.path.startswith("/api/"):
        operation["security"] = []  # an API route anyone may call (a sign-in link request)
    operation["responses"] = _responses(route, components)
    return operation


def build_openapi(base_url: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(Problem, components, "serialization")
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CME webinar tracker",
            "version": "1",
            "description": "Recurring CME webinars: series, occurrences, feeds, attendance, credits.",
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "organizerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token printed by `tracker organizers add`",
                },
                "physicianToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The physician's personal token (given once at creation or rotation)",
                },
            },
        },
    }
