"""Health and the API description."""

from __future__ import annotations

from aiohttp import web

from tracker.http.keys import DATABASE, OPENAPI


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers; an unreachable database is the middleware's 503."""
    await request.app[DATABASE].ping()
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
