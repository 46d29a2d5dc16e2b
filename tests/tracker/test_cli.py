"""The ``tracker`` command, run as a user runs it: a process, from another folder."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import ended_session
from tests.processes import TRACKER, environment
from tests.smtp import free_port
from tracker.db import Database
from tracker.services.finalisation import finalize

GRACE = timedelta(minutes=90)

pytestmark = pytest.mark.any_engine


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``tracker ARGS`` in ``cwd`` with only the ``TRACKER_*`` variables given in ``env``."""
    kept = environment() | env
    return subprocess.run(
        [TRACKER, *args], cwd=cwd, env=kept, capture_output=True, text=True, timeout=60
    )


def test_db_upgrade_creates_the_default_sqlite_file_in_the_current_folder(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "database is up to date"
    assert (tmp_path / "var" / "tracker.db").exists()


def test_organizers_add_prints_the_token_alone_on_the_last_line(
    database_url: str, tmp_path: Path
) -> None:
    result = run(
        ["organizers", "add", "--name", "Camille Martin", "--email", "Camille@Example.org"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    assert token.startswith("org_") and len(token) >= 4 + 43 and " " not in token


def test_organizers_add_refuses_a_bad_email_in_one_line(database_url: str, tmp_path: Path) -> None:
    result = run(
        ["organizers", "add", "--name", "X", "--email", "not-an-email"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: 'not-an-email' is not an email address: An email address must have an @-sign."
    )


def test_organizers_add_refuses_a_name_longer_than_its_column_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    result = run(
        ["organizers", "add", "--name", "C" * 201, "--email", "camille@example.org"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == "Error: the name is longer than 200 characters"


def test_demo_loads_once(database_url: str, tmp_path: Path) -> None:
    first = run(["demo"], cwd=tmp_path, TRACKER_DATABASE_URL=database_url)
    second = run(["demo"], cwd=tmp_path, TRACKER_DATABASE_URL=database_url)

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip().startswith("demo series loaded: http://127.0.0.1:8080/series/")
    assert second.stdout.strip() == "demo data already present"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TRACKER_PORT": "eighty"},
            "Error: configuration error: TRACKER_PORT: Input should be a valid integer",
        ),
        (
            {"TRACKER_DATABASE_URL": "mysql://db/x"},
            "Error: configuration error: TRACKER_DATABASE_URL: driver",
        ),
    ],
)
def test_bad_configuration_stops_serve_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run(["serve"], cwd=tmp_path, **env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message)


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    result = run(
        ["serve"], cwd=tmp_path, TRACKER_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"Error: the database is empty, not \d{4}; run `tracker db upgrade` first", last
    )


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run(
        ["db", "upgrade"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/x",
    )

    assert result.returncode == 1
    assert result.stderr.startswith("Error: the database cannot be reached")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["db", "upgrade"], ["demo"]])
@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql+asyncpg://postgres@127.0.0.1:1/x",
            "Error: the database cannot be reached: [Errno 111] Connect call failed",
        ),
        (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/tracker_no_such_database",
            'Error: database error: database "tracker_no_such_database" does not exist',
        ),
        (
            "postgresql+asyncpg://tracker_no_such_role@127.0.0.1:5432/postgres",
            'Error: database error: role "tracker_no_such_role" does not exist',
        ),
        ("sqlite+aiosqlite:///{tmp}/notes.txt", "Error: database error: file is not a database"),
        (
            "sqlite+aiosqlite:///:memory:",
            "Error: configuration error: TRACKER_DATABASE_URL: an in-memory SQLite database",
        ),
    ],
)
def test_every_database_mistake_is_one_line_from_every_command(
    tmp_path: Path, command: list[str], url: str, said: str
) -> None:
    """serve used to blame the listen address for a refused connection, and print pages of
    tracebacks for a missing database or role; db upgrade added SQLAlchemy's class names and
    its "Background on this error" link."""
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)

    result = run(command, cwd=tmp_path, TRACKER_DATABASE_URL=url.format(tmp=tmp_path))
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]

    assert result.returncode == 1
    assert len(errors) == 1 and errors[0].startswith(said), result.stderr[-2000:]


def test_serve_answers_and_stops_gracefully_on_sigterm(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [TRACKER, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=environment(database_url=database_url, scheduler="on"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = b""
        for _ in range(600):  # up to a minute: a loaded CI machine starts Python slowly
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ) as response:
                    body = response.read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b'{"status": "ok"}'
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("", "Error: --period must look like 2027-03, got ''"),
        ("2027-13", "Error: --period must look like 2027-03, got '2027-13'"),
        ("0000-01", "Error: --period 0000-01 is before 1970, when no session was held"),
        ("9999-12", "Error: --period 9999-12 is not over yet: statements are sent for months"),
    ],
)
def test_statements_send_refuses_a_month_it_cannot_send_in_one_line(
    database_url: str, tmp_path: Path, period: str, message: str
) -> None:
    """A month still running is refused too: each statement is composed once, so one sent
    mid-month would miss the month's later sessions for good."""
    result = run(
        ["statements", "send", "--period", period], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 1
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


async def test_statements_send_says_what_it_queued_in_one_line_without_library_chatter(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    today = datetime.now(UTC)
    ended = (today.replace(day=1) - timedelta(days=10)).replace(hour=13, minute=0)
    occurrence = await ended_session(database, 2, ended=ended, certified=2)
    assert await finalize(database, occurrence, now=ended + timedelta(hours=3), grace=GRACE)
    period = f"{ended:%Y-%m}"

    result = await asyncio.to_thread(
        run, ["statements", "send"], tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        f"2 statements queued for {period} (0 already queued); the running service sends them"
    )
    assert "fontTools" not in result.stderr  # it listed every glyph kept, 60 KB of it
    assert len(result.stderr.splitlines()) < 10, result.stderr


def test_a_long_import_shows_its_progress_in_lines_when_stderr_is_no_terminal(
    database_url: str, tmp_path: Path
) -> None:
    """Under systemd, cron or a pipe, click's bar would print its label once and nothing until
    the end: 40,000 rows for minutes without a sign of life. A line at each tenth instead."""
    upgraded = run(["db", "upgrade"], cwd=tmp_path, TRACKER_DATABASE_URL=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    csv_file = tmp_path / "physicians.csv"
    csv_file.write_text(
        "first_name,last_name,email\n"
        + "".join(f"Prénom,Nom{n},p{n}@example.org\n" for n in range(2_500)),
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(csv_file), "--no-welcome"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("physicians")] == [
        "physicians: 1,000 of 2,500 (40 %)",
        "physicians: 2,000 of 2,500 (80 %)",
        "physicians: 2,500 of 2,500 (100 %)",
    ]
