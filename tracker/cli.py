"""The ``tracker`` command. Every failure a user can cause ends in one line on stderr."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import re
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from aiohttp import web
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from schedules.clock import utcnow
from schedules.errors import InvalidInputError, NotFoundError
from schedules.occurrences import list_occurrences
from schedules.recurrence import resolve_timezone
from schedules.series import get_series
from tracker.adapters.physicians_csv import physician_rows
from tracker.adapters.zoom_report import (
    DateOrder,
    Report,
    digits_only,
    fits_schedule,
    read_report,
    stay_events,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.attendance import Recorded
from tracker.domain.bounds import is_row_id
from tracker.errors import (
    AmbiguousDatesError,
    ConfigError,
    InvalidOrganizerError,
    ReportFormatError,
    RowError,
    SchemaOutdatedError,
)
from tracker.jobs import previous_month
from tracker.logs import RedactingAccessLogger, install_redaction
from tracker.migrate import upgrade
from tracker.services import imports, ingestion
from tracker.services.context import load_mail_settings, load_services
from tracker.services.demo import load_demo
from tracker.services.imports import ImportReport
from tracker.services.organizers import create_organizer
from tracker.services.statements import send_statements
from tracker.settings import Settings, load_settings

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
    install_redaction()


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
            access_log_class=RedactingAccessLogger,
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
        async with database.session() as session:
            series = await load_demo(session, now=utcnow())
        if series is None:
            return "demo data already present"
        return f"demo series loaded: {settings.base_url}/series/{series.slug}.ics"

    click.echo(_run(lambda: _with_database(settings, work)))


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not UTF-8 text") from None


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

    async def work(database: Database) -> ImportReport:
        services = await load_services(database, settings)
        with click.progressbar(length=len(rows), label="physicians", file=sys.stderr) as bar:
            return await imports.import_physicians(
                services, rows, progress=bar.update, send_welcome=not no_welcome
            )

    report = _run(lambda: _with_database(settings, work))
    if tokens_path and report.tokens:
        descriptor = os.open(tokens_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "token", "feed_url"])
            for email, token in report.tokens:
                writer.writerow([email, token, f"{settings.base_url}/feeds/{token}.ics"])
    for error in report.errors:
        click.echo(str(error), err=True)
    counts = report.counts
    if report.welcomes:
        click.echo(f"{report.welcomes} welcome emails queued (sent by the running service)")
    click.echo(
        f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{len(report.errors)} bad rows"
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
        async with database.session() as session:
            try:
                series = await get_series(session, series_id)
                tz = resolve_timezone(timezone or series.timezone)
            except (NotFoundError, InvalidInputError) as exc:
                raise CLIError(str(exc)) from None
            occurrences = await list_occurrences(session, series_id)
            windows = [(o.start, o.end) for o in occurrences]
            try:
                report = _read_report(text, tz, order, windows)
            except ReportFormatError as exc:
                raise CLIError(f"{file}: {exc}") from None
            expected = digits_only(series.zoom_webinar_id or "")
            if report.webinar_id and expected and report.webinar_id != expected:
                raise CLIError(
                    f"{file}: the report is for Zoom webinar {report.webinar_id}, "
                    f"series {series_id} is webinar {expected}"
                )
            stays = report.stays
            total = Recorded()
            with click.progressbar(length=len(stays), label="stays", file=sys.stderr) as bar:
                for start in range(0, len(stays), 250):
                    chunk = stays[start : start + 250]
                    events = [
                        event for stay in chunk for event in stay_events(stay, series_id=series_id)
                    ]
                    recorded = await ingestion.record(database, events)
                    total.accepted += recorded.accepted
                    total.duplicates += recorded.duplicates
                    total.unmatched += recorded.unmatched
                    total.pairs |= recorded.pairs
                    bar.update(len(chunk))
        await ingestion.project_all(await load_services(database, settings))
        return total, report

    recorded, report = _run(lambda: _with_database(settings, work))
    for row in report.bad:
        click.echo(f"line {row.line}: {row.reason}", err=True)
    if report.left_out:
        click.echo("left out: " + ", ".join(_left_out(report.left_out)))
    click.echo(
        f"{recorded.accepted} events recorded, {recorded.duplicates} already known, "
        f"{recorded.unmatched} unmatched, {len(report.bad)} bad rows"
    )


_LEFT_OUT = {
    "host": "host row(s)",
    "panelist": "panelist row(s)",
    "absent": "registrant(s) who did not attend",
    "other": "row(s) of other sections",
}


def _left_out(counts: Counter[str]) -> list[str]:
    return [f"{counts[key]} {label}" for key, label in _LEFT_OUT.items() if counts[key]]


def _read_report(
    text: str, tz: ZoneInfo, order: DateOrder | None, windows: list[tuple[datetime, datetime]]
) -> Report:
    """The report read with the given date order, else the file's, else the only one that
    lands every stay on a session of the series; refused when none of them decides."""
    try:
        return read_report(text, tz, order=order)
    except AmbiguousDatesError:
        readings = [read_report(text, tz, order=candidate) for candidate in ("mdy", "dmy")]
        fitting = [reading for reading in readings if fits_schedule(reading.stays, windows)]
        if len(fitting) == 1:
            return fitting[0]
        raise


class ProgressBar:
    """A click progress bar (on stderr) for a service that reports ``(done, total)`` as it goes:
    the bar appears at the first report, when the total is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._done = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done


@cli.group()
def statements() -> None:
    """Monthly CME statements."""


@statements.command("send")
@click.option("--period", help="Month as YYYY-MM (default: last month)")
def statements_send(period: str | None) -> None:
    """Queue the statement of PERIOD for every physician with final credits in it."""
    settings = _settings()
    chosen = period or previous_month(utcnow())
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", chosen):
        raise CLIError(f"--period must look like 2027-03, got {chosen!r}")

    async def work(database: Database) -> tuple[int, int]:
        mail = await load_mail_settings(database, settings)
        with ProgressBar(f"statements {chosen}") as bar:
            return await send_statements(database, mail, chosen, now=utcnow(), progress=bar)

    queued, total = _run(lambda: _with_database(settings, work))
    click.echo(
        f"{queued} statements queued for {chosen} ({total - queued} already queued); the running service sends them"
    )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
