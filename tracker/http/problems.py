"""RFC 9457 problem details: every error the service answers, in one place."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from schedules.errors import (
    InvalidInputError,
    NotFoundError,
    OccurrenceConflictError,
)
from tracker.domain.validation import validation_messages
from tracker.errors import CertificateRevokedError, IdentifierTakenError
from tracker.outages import RETRY_AFTER, database_unreachable

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = None


class HTTPProblem(Exception):
    """Raised by handlers for request-level errors (bad JSON, bad query, missing auth)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def invalid_body(error: ValidationError) -> HTTPProblem:
    errors = validation_messages(error)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    return HTTPProblem(422, detail, errors=errors)


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return web.Response(
        status=status,
        text=json.dumps(body.model_dump(exclude_none=True), ensure_ascii=False),
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def _http_exception_detail(exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "the request body is larger than this service accepts"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"{exc.method} is not allowed here; use {', '.join(sorted(exc.allowed_methods))}"
    if isinstance(exc, web.HTTPNotFound):
        return "no such resource"
    return exc.reason


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure to a problem response; never let a traceback reach the client."""
    try:
        refused = nul_in_path(request)
        if refused is not None:
            return refused
        return await handler(request)
    except HTTPProblem as exc:
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)
    except NotFoundError as exc:
        return problem_response(404, str(exc))
    except CertificateRevokedError as exc:
        return problem_response(410, str(exc))
    except IdentifierTakenError as exc:  # the value is valid, another physician holds it
        return problem_response(
            409, str(exc), errors=[{"field": exc.field, "message": exc.message}]
        )
    except InvalidInputError as exc:
        return problem_response(
            422, str(exc), errors=[{"field": exc.field, "message": exc.message}]
        )
    except OccurrenceConflictError as exc:
        return problem_response(409, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(exc.status, _http_exception_detail(exc), headers=headers)
    except Exception as exc:
        unavailable = unavailable_response(request, exc)
        if unavailable is not None:
            return unavailable
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "the service failed to answer; the error was logged")


def nul_in_path(request: web.Request) -> web.Response | None:
    """404 for a path holding U+0000: no resource has one in its name, and PostgreSQL cannot
    even compare such text (a slug, a code, a link token would fail there with a 500)."""
    if "\x00" in request.path:
        return problem_response(404, "no such resource")
    return None


def unavailable_response(request: web.Request, error: BaseException) -> web.Response | None:
    """503 with ``Retry-After`` when ``error`` means the database cannot be reached right now
    (logged as one line, no traceback); ``None`` for anything else, which is a bug (500)."""
    cause = database_unreachable(error)
    if cause is None:
        return None
    resource = request.match_info.route.resource
    where = (
        resource.canonical if resource is not None else "?"
    )  # never the path: it may hold a token
    log.warning(
        "database unreachable on %s %s: %s: %s",
        request.method,
        where,
        type(cause).__name__,
        str(cause)[:200],
    )
    return problem_response(
        503,
        "the database cannot be reached right now; try again in a few seconds",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


def problem_schema() -> dict[str, Any]:
    return Problem.model_json_schema()
