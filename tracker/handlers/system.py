"""Health and the API description."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from tracker.keys import DATABASE, OPENAPI
from tracker.problems import problem_response


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[DATABASE].ping()
    except (SQLAlchemyError, OSError) as exc:
        return problem_response(503, f"the database does not answer: {type(exc).__name__}")
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
