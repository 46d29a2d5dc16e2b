"""The ``tracker`` command. Every failure a user can cause ends in one line on stderr."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TextIO, TypeVar

import click
from aiohttp import web
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from schedules.clock import utcnow
from schedules.errors import InvalidInputError, NotFoundError
from schedules.wording import plural_category
from tracker.adapters.csvfiles import decoded
from tracker.adapters.physicians_csv import physician_rows
from tracker.adapters.zoom_report import (
    DateOrder,
    Report,
)
from tracker.app import create_app, freeze_heap
from tracker.db import Database
from tracker.domain.attendance import Recorded
from tracker.domain.bounds import is_row_id
from tracker.errors import (
    ConfigError,
    DuplicateIdentifiersError,
    InvalidOrganizerError,
    ReportFormatError,
    ReportMismatchError,
    RowError,
    SchemaOutdatedError,
    ZoomNotConfiguredError,
)
from tracker.jobs import previous_month
from tracker.logs import (
    RedactingAccessLogger,
    RollingUpAccessLogger,
    SecondFormatter,
    flush_access_rollup,
    install_redaction,
)
from tracker.migrate import check_schema, upgrade
from tracker.services import imports, reports
from tracker.services import zoom as zoom_service
from tracker.services.context import load_mail_settings, load_services
from tracker.services.demo import load_demo
from tracker.services.imports import ImportReport
from tracker.services.organizers import create_organizer
from tracker.services.statements import send_statements
from tracker.settings import Settings, load_settings
from tracker.workers import WorkersFailedError, child_command, supervise
from tracker.zoom import client_for

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
        raise CLIError(f"the database cannot be reached: {_driver_message(exc)}") from None
    except SQLAlchemyError as exc:
        raise CLIError(f"database error: {_driver_message(exc)}") from None
    except OSError as exc:  # refused or unreachable database server
        raise CLIError(f"the database cannot be reached: {exc}") from None


def _driver_message(exc: SQLAlchemyError) -> str:
    """What the database driver said, on one line: not SQLAlchemy's wrapping (its class
    names and the "Background on this error" link), nor asyncpg's exception class."""
    said = str(getattr(exc, "orig", None) or exc).strip()
    said = re.sub(r"^<class '[\w.]+'>:\s*", "", said)
    return said.splitlines()[0] if said else type(exc).__name__


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    database = Database(settings.database_url)
    try:
        return await work(database)
    finally:
        await database.close()


@click.group()
def cli() -> None:
    """Recurring CME webinars: schedules, feeds, attendance, credits and email."""
    # what no line prints is not gathered for each record (the logging HOWTO's "Optimization")
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(SecondFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # fontTools tells at INFO every glyph it keeps when the fonts are first cut: pages of it
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    install_redaction()


@cli.command()
@click.option("--host", help="Bind address (default TRACKER_HOST or 127.0.0.1)")
@click.option("--port", type=int, help="Port (default TRACKER_PORT or 8080)")
@click.option(
    "--workers",
    type=int,
    help="Service processes sharing the port (default TRACKER_WORKERS or 1; PostgreSQL only "
    "above 1)",
)
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Bind with SO_REUSEPORT, so that other processes can serve the same port",
)
def serve(host: str | None, port: int | None, workers: int | None, reuse_port: bool) -> None:
    """Serve the HTTP API and feeds, and run the background jobs."""
    settings = _settings(host=host, port=port, workers=workers)
    if settings.workers > 1:
        _serve_workers(settings)
        return
    _check_database(settings)
    app = create_app(settings)
    app.on_startup.append(freeze_heap)
    app.on_cleanup.append(flush_access_rollup)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            reuse_port=reuse_port or None,
            shutdown_timeout=15,
            access_log_class=(
                RollingUpAccessLogger
                if settings.access_log_webhooks == "per-second"
                else RedactingAccessLogger
            ),
            print=lambda text: click.echo(text.strip()),
        )
    except SchemaOutdatedError as exc:
        raise CLIError(str(exc)) from None
    except OperationalError as exc:
        raise CLIError(f"the database cannot be reached: {_driver_message(exc)}") from None
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None


def _check_database(settings: Settings) -> None:
    """Reach the database and check its schema before serving: a database that is down, does
    not exist, refuses the role or is not a database at all is one line, not a traceback from
    the middle of the start-up (nor "cannot listen on", which a refused connection also is)."""
    try:
        _run(lambda: _with_database(settings, lambda database: check_schema(database.engine)))
    except SchemaOutdatedError as exc:
        raise CLIError(str(exc)) from None


def _serve_workers(settings: Settings) -> None:
    """``--workers N``: check what every child would trip on once, then supervise them."""
    if settings.is_sqlite:
        raise CLIError(
            f"{settings.workers} workers need PostgreSQL: an SQLite database serves one "
            "process (use --workers 1, or TRACKER_DATABASE_URL=postgresql+asyncpg://...)"
        )
    _check_database(settings)
    try:
        _check_port(settings.host, settings.port)
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None
    click.echo(
        f"serving http://{settings.host}:{settings.port} with {settings.workers} processes "
        "(SIGTERM or Ctrl-C stops them all)"
    )
    try:
        supervise(child_command(settings.host, settings.port), settings.workers)
    except WorkersFailedError as exc:
        raise CLIError(str(exc)) from None


def _check_port(host: str, port: int) -> None:
    """Bind the address as the children will (``SO_REUSEPORT``) and let it go: a port that a
    process without that option holds fails here, once, rather than in every child."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = _settings()
    try:
        _run(lambda: upgrade(settings.database_url))
    except DuplicateIdentifiersError as exc:  # data only a person can put right
        raise CLIError(str(exc)) from None
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
        organizer, token = await create_organizer(database, name=name, email=email)
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
        series = await load_demo(database, now=utcnow())
        if series is None:
            return "demo data already present"
        return f"demo series loaded: {settings.base_url}/series/{series.slug}.ics"

    click.echo(_run(lambda: _with_database(settings, work)))


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return decoded(raw)
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not text in UTF-8, UTF-16 or Windows-1252") from None


def _tokens_file(path: str) -> TextIO:
    """The tokens file, created (or emptied) readable by its owner only, or a one-line error."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise CLIError(f"--tokens {path}: {exc.strerror}; nothing was imported") from None
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


@cli.command("import-physicians")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--tokens",
    "tokens_path",
    type=click.Path(dir_okay=False),
    help="Write email,token,feed_url of newly created physicians to this file (mode 600)",
)
@click.option(
    "--no-welcome",
    "no_welcome",
    is_flag=True,
    help="Do not email a welcome (personal page and calendar links) to the physicians created",
)
def import_physicians(file: str, tokens_path: str | None, no_welcome: bool) -> None:
    """Create or update physicians from a CSV (first_name,last_name,email,... header); each
    physician created gets a welcome email unless --no-welcome."""
    settings = _settings()
    text = _read_text(file)
    try:
        rows = list(physician_rows(text))
    except RowError as exc:
        raise CLIError(str(exc)) from None
    # opened before anything is imported: the tokens are shown once, so a path that cannot be
    # written must stop the import, not lose them after it
    tokens = _tokens_file(tokens_path) if tokens_path else None

    async def work(database: Database) -> ImportReport:
        services = await load_services(database, settings)
        with ProgressBar("physicians") as bar:
            return await imports.import_physicians(
                services, rows, progress=bar.counting(len(rows)), send_welcome=not no_welcome
            )

    try:
        report = _run(lambda: _with_database(settings, work))
    except BaseException:
        if tokens is not None:
            tokens.close()
        raise
    if tokens is not None:
        with tokens as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "token", "feed_url"])
            for newcomer in report.created:
                feed = f"{settings.base_url}/feeds/{newcomer.feed_key}.ics"
                writer.writerow([newcomer.email, newcomer.token, feed])
    for error in report.errors:
        click.echo(str(error), err=True)
    counts = report.counts
    if report.welcomes:
        click.echo(
            _counted("welcome email", report.welcomes) + " queued (sent by the running service)"
        )
    click.echo(
        f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        + _counted("bad row", len(report.errors))
    )


@cli.command("import-zoom-report")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--series", "series_id", type=int, required=True, help="The series the webinar belongs to"
)
@click.option(
    "--timezone", "timezone", help="Timezone of the report's times (default: the series')"
)
@click.option(
    "--date-order",
    "order",
    type=click.Choice(["mdy", "dmy"]),
    help="Read 03/04/2026 as month first (mdy, Zoom's US format) or day first (dmy); "
    "needed only when neither the file nor the series' sessions decide",
)
def import_zoom_report(
    file: str, series_id: int, timezone: str | None, order: DateOrder | None
) -> None:
    """Record the attendees' stays of a Zoom participant or webinar attendee report."""
    settings = _settings()
    if not is_row_id(series_id):  # no row has it; the database would refuse the number itself
        raise CLIError(f"series {series_id} does not exist")
    text = _read_text(file)

    async def work(database: Database) -> tuple[Recorded, Report]:
        services = await load_services(database, settings)
        try:
            with ProgressBar("stays") as bar:
                return await reports.import_zoom_report(
                    services, series_id, text, timezone=timezone, order=order, progress=bar
                )
        except (NotFoundError, InvalidInputError) as exc:
            raise CLIError(str(exc)) from None
        except (ReportFormatError, ReportMismatchError) as exc:
            raise CLIError(f"{file}: {exc}") from None

    recorded, report = _run(lambda: _with_database(settings, work))
    for row in report.bad:
        click.echo(f"line {row.line}: {row.reason}", err=True)
    if report.left_out:
        click.echo("left out: " + ", ".join(_left_out(report.left_out)))
    conflicts = (
        f"{recorded.conflicts} not recorded (a stored event has their id with other details), "
        if recorded.conflicts
        else ""
    )
    click.echo(
        _counted("event", recorded.accepted)
        + f" recorded, {recorded.duplicates} already known, {conflicts}"
        + f"{recorded.unmatched} unmatched, "
        + _counted("bad row", len(report.bad))
    )


_LEFT_OUT = {
    "host": "host row(s)",
    "panelist": "panelist row(s)",
    "absent": "registrant(s) who did not attend",
    "waiting": "waiting-room row(s)",
    "other": "row(s) of other sections",
}


def _left_out(counts: Counter[str]) -> list[str]:
    return [f"{counts[key]} {label}" for key, label in _LEFT_OUT.items() if counts[key]]


class ProgressBar:
    """Progress of a long command on stderr, from a service that reports ``(done, total)``:
    click's bar on a terminal (it appears at the first report, when the total is known);
    elsewhere (a pipe, a log file, systemd's journal) a line at each tenth done, so that a
    run of many minutes shows it moves without filling the log."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._done = 0
        self._tenth = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            tenth = 10 if total <= 0 else min(10, done * 10 // total)
            if tenth > self._tenth:
                self._tenth = tenth
                click.echo(f"{self.label}: {done:,} of {total:,} ({tenth * 10} %)", err=True)
        else:
            if self._bar is None:
                self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
                self._bar.__enter__()
            self._bar.update(done - self._done)
        self._done = done

    def counting(self, total: int) -> Callable[[int], None]:
        """For a service that reports how many more are done each time."""
        return lambda more: self(self._done + more, total)


@cli.group()
def statements() -> None:
    """Monthly CME statements."""


@statements.command("send")
@click.option("--period", help="Month as YYYY-MM (default: last month)")
def statements_send(period: str | None) -> None:
    """Queue the statement of PERIOD for every physician with final credits in it."""
    settings = _settings()
    latest = previous_month(utcnow())
    chosen = latest if period is None else period
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", chosen):
        raise CLIError(f"--period must look like 2027-03, got {chosen!r}")
    if chosen > latest:  # a statement is composed once: a month still running would stay short
        raise CLIError(
            f"--period {chosen} is not over yet: statements are sent for months that have ended "
            f"(the latest is {latest})"
        )
    if chosen < "1970-01":
        raise CLIError(f"--period {chosen} is before 1970, when no session was held")

    async def work(database: Database) -> tuple[int, int]:
        mail = await load_mail_settings(database, settings)
        with ProgressBar(f"statements {chosen}") as bar:
            return await send_statements(database, mail, chosen, now=utcnow(), progress=bar)

    queued, total = _run(lambda: _with_database(settings, work))
    click.echo(
        _counted("statement", queued)
        + f" queued for {chosen} ({total - queued} already queued); the running service sends them"
    )


# Zoom account integration (SPEC 8) ---------------------------------------------------------------


@cli.group()
def zoom() -> None:
    """The Zoom account: registrants and reconciliation from Zoom's reports."""


@zoom.command("reconcile")
@click.option("--occurrence", "occurrence_id", type=int, required=True, help="Occurrence id")
def zoom_reconcile(occurrence_id: int) -> None:
    """Read the occurrence's participant report from Zoom now and record its stays."""
    settings = _settings()
    client = client_for(settings)
    if client is None:
        raise CLIError(str(ZoomNotConfiguredError()))
    if not is_row_id(occurrence_id):
        raise CLIError(f"occurrence {occurrence_id} does not exist")

    async def work(database: Database) -> zoom_service.Outcome:
        services = await load_services(database, settings)
        async with client:
            try:
                return await zoom_service.reconcile_now(services, client, occurrence_id)
            except NotFoundError as exc:
                raise CLIError(str(exc)) from None

    outcome = _run(lambda: _with_database(settings, work))
    if outcome.reason:
        raise CLIError(f"occurrence {occurrence_id}: reconciliation failed: {outcome.reason}")
    for unreadable in outcome.unreadable:
        click.echo(f"left out: {unreadable}", err=True)
    click.echo(
        f"occurrence {occurrence_id}: "
        + _counted("report row", outcome.rows)
        + ", "
        + _counted("new fact", outcome.added)
        + (f", {_counted('unreadable row', len(outcome.unreadable))}" if outcome.unreadable else "")
    )


@zoom.command("sync-registrants")
def zoom_sync_registrants() -> None:
    """Add registrations to their Zoom webinars and cancel removed ones, now."""
    settings = _settings()
    client = client_for(settings)
    if client is None:
        raise CLIError(str(ZoomNotConfiguredError()))

    async def work(database: Database) -> zoom_service.Synced:
        services = await load_services(database, settings)
        async with client:
            return await zoom_service.sync_registrants(services, client, budget=3600)

    synced = _run(lambda: _with_database(settings, work))
    click.echo(
        f"{synced.added} added, {synced.cancelled} cancelled, {synced.failed} failed "
        "(retried by the service)"
    )


def _counted(noun: str, value: int) -> str:
    """``1 bad row``, ``0 bad rows``: the CLI speaks English (Babel's plural rules); its
    numbers stay ungrouped (``2497 created``), as scripts read them."""
    return f"{value} {noun}" if plural_category(value, "en") == "one" else f"{value} {noun}s"


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
