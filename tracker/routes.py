"""Every route of the service, in one table: the router and the OpenAPI document read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from schedules.schemas import (
    OccurrencePublic,
    OccurrenceUpdate,
    SeriesCreate,
    SeriesCreated,
    SeriesPublic,
    SeriesUpdate,
)
from tracker.handlers import feeds, series, system
from tracker.keys import DATABASE, ORGANIZER
from tracker.organizers import organizer_for_token
from tracker.problems import HTTPProblem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["none", "organizer"]


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    format: str = "date-time"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "organizer"
    body: type[BaseModel] | None = None
    response: Any = None  # a model, ``list[Model]``, or a media type string
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)


WINDOW = (
    QueryParam("from", "Only occurrences ending after this instant (ISO 8601, with offset)"),
    QueryParam("to", "Only occurrences starting before this instant (ISO 8601, with offset)"),
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/healthz",
        system.healthz,
        "Liveness and database check",
        auth="none",
        tags=("system",),
    ),
    Route("GET", "/openapi.json", system.openapi, "This document", auth="none", tags=("system",)),
    Route(
        "POST",
        "/api/series",
        series.create_series,
        "Create a series",
        body=SeriesCreate,
        response=SeriesCreated,
        status=201,
        tags=("series",),
    ),
    Route(
        "GET",
        "/api/series",
        series.list_series,
        "List series",
        response=list[SeriesPublic],
        tags=("series",),
    ),
    Route(
        "GET",
        "/api/series/{id}",
        series.get_series,
        "Read a series",
        response=SeriesPublic,
        tags=("series",),
    ),
    Route(
        "PATCH",
        "/api/series/{id}",
        series.update_series,
        "Edit a series",
        body=SeriesUpdate,
        response=SeriesPublic,
        tags=("series",),
    ),
    Route(
        "GET",
        "/api/series/{id}/occurrences",
        series.list_occurrences,
        "List a series' occurrences in a window",
        response=list[OccurrencePublic],
        query=WINDOW,
        tags=("series",),
    ),
    Route(
        "PATCH",
        "/api/occurrences/{id}",
        series.update_occurrence,
        "Cancel, restore or move one occurrence",
        body=OccurrenceUpdate,
        response=OccurrencePublic,
        tags=("series",),
    ),
    Route(
        "GET",
        "/calendar.ics",
        feeds.calendar_feed,
        "Feed of every public series",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
    ),
    Route(
        "GET",
        "/series/{slug}.ics",
        feeds.series_feed,
        "Feed of one public series",
        auth="none",
        response="text/calendar",
        tags=("feeds",),
    ),
)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPProblem(
            401,
            "send 'Authorization: Bearer <organiser token>'",
            headers={"WWW-Authenticate": 'Bearer realm="tracker"'},
        )
    return token.strip()


def guarded(route: Route) -> Handler:
    """The route's handler behind its authentication check."""
    if route.auth == "none":
        return route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        token = _bearer(request)
        async with request.app[DATABASE].session() as session:
            organizer = await organizer_for_token(session, token)
        if organizer is None:
            raise HTTPProblem(
                401,
                "unknown or revoked organiser token",
                headers={"WWW-Authenticate": 'Bearer realm="tracker", error="invalid_token"'},
            )
        request[ORGANIZER] = organizer
        return await route.handler(request)

    return handler


def setup_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))
