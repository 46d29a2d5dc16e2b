"""OpenAPI 3.1, generated from the route table and the pydantic models the handlers use."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from tracker.problems import Problem
from tracker.routes import ROUTES, Route

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


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.handler.__module__.rsplit('.', 1)[-1]}_{route.handler.__name__}",
        "tags": list(route.tags),
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": {"type": "string", "format": q.format},
        }
        for q in route.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(route.body, components, "validation")}
            },
        }
    responses: dict[str, Any] = {}
    if isinstance(route.response, str):
        responses[str(route.status)] = {
            "description": "OK",
            "content": {route.response: {"schema": {"type": "string"}}},
        }
        if route.response == "text/calendar":
            responses["304"] = {"description": "Not modified since the given ETag or date"}
    elif route.response is not None:
        responses[str(route.status)] = {
            "description": "OK",
            "content": {
                "application/json": {"schema": _schema(route.response, components, "serialization")}
            },
        }
    elif route.status == 204:
        responses["204"] = {"description": "Done; no content"}
    else:
        responses[str(route.status)] = {"description": "OK", "content": {"application/json": {}}}
    if route.body is not None:
        responses["400"] = _problem("The body is not JSON")
        responses["422"] = _problem("The body does not fit the schema or the rules")
    if route.auth in ("organizer", "physician"):
        operation["security"] = [{f"{route.auth}Token": []}]
        responses["401"] = _problem("Missing or unknown token")
    elif route.auth == "zoom":
        responses["401"] = _problem("Missing, stale or wrong Zoom signature")
        responses["503"] = _problem("TRACKER_ZOOM_WEBHOOK_SECRET is not set")
    if "{" in route.path:
        responses["404"] = _problem("No such resource")
    operation["responses"] = responses
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
