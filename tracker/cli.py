"""The ``tracker`` command. Every failure a user can cause ends in one line on stderr."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from aiohttp import web
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from schedules.clock import utcnow
from tracker.app import create_app
from tracker.db import Database
from tracker.demo import load_demo
from tracker.migrate import SchemaOutdatedError, upgrade
from tracker.organizers import InvalidOrganizerError, create_organizer
from tracker.settings import ConfigError, Settings, load_settings

T = TypeVar("T")


class CLIError(click.ClickException):
    """A one-line failure (click prints ``Error: <message>`` and exits 1)."""


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise CLIError(str(exc)) from None


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(factory())  # type: ignore[arg-type]  # a coroutine in practice
    except OperationalError as exc:
        raise CLIError(f"the database cannot be reached: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise CLIError(f"database error: {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # refused or unreachable database server
        raise CLIError(f"the database cannot be reached: {exc}") from None


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    database = Database(settings.database_url)
    try:
        return await work(database)
    finally:
        await database.close()


@click.group()
def cli() -> None:
    """Recurring CME webinars: schedules, feeds, attendance, credits and email."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@cli.command()
@click.option("--host", help="Bind address (default TRACKER_HOST or 127.0.0.1)")
@click.option("--port", type=int, help="Port (default TRACKER_PORT or 8080)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API and feeds, and run the background jobs."""
    settings = _settings(host=host, port=port)
    try:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            shutdown_timeout=15,
            access_log_format='%a "%r" %s %b %Tfs',
            print=lambda text: click.echo(text.strip()),
        )
    except SchemaOutdatedError as exc:
        raise CLIError(str(exc)) from None
    except OperationalError as exc:
        raise CLIError(f"the database cannot be reached: {exc.orig}") from None
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = _settings()
    _run(lambda: upgrade(settings.database_url))
    click.echo("database is up to date")


@cli.group()
def organizers() -> None:
    """Organiser accounts."""


@organizers.command("add")
@click.option("--name", required=True, help="Full name")
@click.option("--email", required=True, help="Email address")
def organizers_add(name: str, email: str) -> None:
    """Create an organiser; prints its token once, alone on the last line."""
    settings = _settings()

    async def work(database: Database) -> tuple[int, str]:
        async with database.session() as session:
            organizer, token = await create_organizer(session, name=name, email=email)
        return organizer.id or 0, token

    try:
        organizer_id, token = _run(lambda: _with_database(settings, work))
    except InvalidOrganizerError as exc:
        raise CLIError(str(exc)) from None
    click.echo(
        f"organiser {organizer_id} created for {email}; keep this token secret, it is shown once:"
    )
    click.echo(token)


@cli.command()
def demo() -> None:
    """Load the demo series (does nothing if it is already there)."""
    settings = _settings()

    async def work(database: Database) -> str:
        async with database.session() as session:
            series = await load_demo(session, now=utcnow())
        if series is None:
            return "demo data already present"
        return f"demo series loaded: {settings.base_url}/series/{series.slug}.ics"

    click.echo(_run(lambda: _with_database(settings, work)))


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
