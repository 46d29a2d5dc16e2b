"""The application factory: one place that composes settings, database, routes and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy.orm import configure_mappers

from notifications.rendering import ProcessRenderer, Renderer, renderer
from notifications.transports import transport_for
from notifications.worker import DeliveryWorker
from schedules.feeds import FeedCache
from tracker.db import Database
from tracker.http.api.attendance import WRITER
from tracker.http.api.feeds import FEED_CACHE
from tracker.http.background import BACKGROUND, Background, drain_background
from tracker.http.keys import DATABASE, MAIL, OPENAPI, SERVICES, SETTINGS, WORKER, ZOOM
from tracker.http.openapi import build_openapi
from tracker.http.pages.errors import html_error_pages
from tracker.http.pages.render import security_headers
from tracker.http.problems import problem_middleware
from tracker.http.routes import setup_routes
from tracker.jobs import STOPPING, scheduler_ctx, signal_stopping
from tracker.logs import install_redaction
from tracker.migrate import check_schema
from tracker.services.context import Services, load_mail_settings
from tracker.services.ingestion import Projector, Writer
from tracker.settings import Settings
from tracker.zoom import client_for

PROJECTOR = web.AppKey("award_projector", Projector)
PDFS = web.AppKey("pdfs", Renderer)


async def rendering_ctx(app: web.Application) -> AsyncIterator[None]:
    """The processes drawing certificate PDFs (``TRACKER_PDF_WORKERS``; started by the first
    batch of certificates, not before): first set up, last stopped, once no job uses them."""
    yield
    pdfs = app[PDFS]
    if isinstance(pdfs, ProcessRenderer):
        await asyncio.to_thread(pdfs.close)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    database = Database(
        app[SETTINGS].database_url, pool_timeout=app[SETTINGS].database_pool_timeout
    )
    try:
        await check_schema(database.engine)
    except BaseException:
        await database.close()
        raise
    settings = app[SETTINGS]
    mail = await load_mail_settings(database, settings)
    smtp = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    worker = DeliveryWorker(
        database.session,
        transport_for(smtp, settings.maildir),
        sender=settings.mail_from,
        rate_per_second=settings.mail_rate,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    app[DATABASE], app[MAIL], app[WORKER] = database, mail, worker
    projector = app[PROJECTOR]
    project_soon = None if settings.scheduler == "off" else projector.poke
    app[SERVICES] = Services(database, settings, mail, worker.poke, project_soon, pdfs=app[PDFS])
    app[WRITER] = Writer(database, stored=project_soon or _nothing)
    yield
    await database.close()


def _nothing() -> None:
    """No projector in this process: readers settle the awards they need."""


async def ingestion_ctx(app: web.Application) -> AsyncIterator[None]:
    """The attendance writer (every process: it is the webhook's way to the database) and the
    award projector (where the scheduler runs). Stopping: the writer commits what it was handed,
    the projector ends its batch; what is left pending is resumed at the next start."""
    writer, projector = app[WRITER], app[PROJECTOR]
    writer.start()
    if app[SETTINGS].scheduler != "off":
        projector.start(app[SERVICES], last_write=lambda: writer.last_write)
    yield
    await writer.stop()
    await projector.stop()


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox worker runs where the scheduler runs (``TRACKER_SCHEDULER=on``)."""
    if app[SETTINGS].scheduler == "off":
        yield
        return
    worker = app[WORKER]
    task = asyncio.create_task(worker.run(), name="outbox-delivery")
    yield
    worker.stop()
    try:
        await asyncio.wait_for(task, timeout=30)
    except TimeoutError:  # an SMTP server that does not answer: its lease will expire
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def zoom_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Zoom account's client (SPEC 8), one per process so its token is shared; none
    without the settings."""
    client = client_for(app[SETTINGS])
    if client is None:
        yield
        return
    app[ZOOM] = client
    yield
    await client.close()


#: Allocations (less deallocations) between two collections of the young generation, in a
#: serving process (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 20_000


async def freeze_heap(_app: web.Application) -> None:
    """``on_startup`` of a serving process (``tracker serve``), once everything has started:
    the ORM's mappers configured (else the first webhook of a storm pays ~100 ms for it), then
    every object alive moved into the garbage collector's permanent generation. What a
    process holds for its whole life (modules, mappers, compiled statements, pools) is then
    never traversed again: a full collection under a join storm took ~100 ms of the event
    loop and a quarter of the CPU spent collecting (bench/RESULTS.md). The young generation is
    then collected every 20,000 allocations instead of 700: a storm's requests leave few
    cycles, and collecting every 700 took 3-4 % of the process (a storm of 18,000 webhooks: 310
    collections, 0.15-0.23 s; at 20,000: 2, 0.01 s). Tests build many apps in one process and
    do not freeze."""
    configure_mappers()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


def create_app(settings: Settings) -> web.Application:
    install_redaction()
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[html_error_pages, problem_middleware],
    )
    app.on_response_prepare.append(security_headers)
    app[SETTINGS] = settings
    app[OPENAPI] = build_openapi(settings.base_url)
    app[STOPPING] = asyncio.Event()
    app[FEED_CACHE] = FeedCache()
    app[PROJECTOR] = Projector()
    app[BACKGROUND] = Background()
    app[PDFS] = renderer(settings.pdf_workers if settings.scheduler == "on" else 0)
    app.on_shutdown.append(signal_stopping)
    app.on_shutdown.append(drain_background)
    app.cleanup_ctx.append(rendering_ctx)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(ingestion_ctx)
    app.cleanup_ctx.append(zoom_ctx)
    app.cleanup_ctx.append(scheduler_ctx)
    app.cleanup_ctx.append(delivery_ctx)
    setup_routes(app)
    return app
