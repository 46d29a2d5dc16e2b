"""The application factory: one place that composes settings, database, routes and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from tracker.db import Database
from tracker.jobs import scheduler_ctx
from tracker.keys import BUS, DATABASE, OPENAPI, SETTINGS
from tracker.migrate import check_schema
from tracker.openapi import build_openapi
from tracker.problems import problem_middleware
from tracker.projections import build_bus
from tracker.routes import setup_routes
from tracker.settings import Settings


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    database = Database(app[SETTINGS].database_url)
    try:
        await check_schema(database.engine)
    except BaseException:
        await database.close()
        raise
    app[DATABASE] = database
    app[BUS] = build_bus(database)
    yield
    await database.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_request_bytes, middlewares=[problem_middleware]
    )
    app[SETTINGS] = settings
    app[OPENAPI] = build_openapi(settings.base_url)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(scheduler_ctx)
    setup_routes(app)
    return app
