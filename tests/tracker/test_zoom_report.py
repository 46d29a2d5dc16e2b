"""Zoom's participant report: read row by row, bad rows reported, a second import adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.tracker.test_cli import run
from tracker.zoom_report import ReportFormatError, parse_report

DATA = Path(__file__).parent.parent / "data"
PARIS = ZoneInfo("Europe/Paris")


def test_parse_reads_stays_in_the_report_timezone_and_reports_bad_rows() -> None:
    stays, bad = parse_report((DATA / "zoom_participants.csv").read_text(encoding="utf-8"), PARIS)

    assert [(s.line, s.email, s.join, s.leave) for s in stays[:1]] == [
        (
            5,
            "jeanne.durand@example.org",
            datetime(2026, 11, 2, 11, 25, 40, tzinfo=UTC),
            datetime(2026, 11, 2, 11, 50, 10, tzinfo=UTC),
        )
    ]
    assert [s.email for s in stays] == [
        "jeanne.durand@example.org",
        "jeanne.durand@example.org",
        "paul@example.org",
        "paul@example.org",
        "ines.moreau@example.org",
    ]
    assert stays[-1].leave == datetime(
        2026, 11, 2, 12, 15, tzinfo=UTC
    )  # no leave time: join + duration
    assert [(b.line, b.reason) for b in bad] == [
        (9, "no email address, so the row cannot be matched to a physician"),
        (10, "unreadable time 'yesterday noon'"),
        (11, "leave time is before join time"),
    ]


def test_a_file_without_the_participant_header_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="Join Time"):
        parse_report("a,b\n1,2\n", PARIS)


def _setup_cli(tmp_path: Path, database_url: str) -> tuple[str, str]:
    env = {"TRACKER_DATABASE_URL": database_url}
    assert run(["demo"], cwd=tmp_path, **env).returncode == 0
    imported = run(["import-physicians", str(DATA / "physicians.csv")], cwd=tmp_path, **env)
    assert imported.returncode == 0, imported.stderr
    return database_url, imported.stdout


def test_cli_import_records_events_and_a_second_run_adds_nothing(
    database_url: str, tmp_path: Path
) -> None:
    _setup_cli(tmp_path, database_url)
    env = {"TRACKER_DATABASE_URL": database_url}
    report = str(DATA / "zoom_participants.csv")

    first = run(["import-zoom-report", report, "--series", "1"], cwd=tmp_path, **env)
    second = run(["import-zoom-report", report, "--series", "1"], cwd=tmp_path, **env)

    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip().splitlines()[-1]
        == "10 events recorded, 0 already known, 0 unmatched, 3 bad rows"
    )
    assert "line 10: unreadable time 'yesterday noon'" in first.stderr
    assert (
        second.stdout.strip().splitlines()[-1]
        == "0 events recorded, 10 already known, 0 unmatched, 3 bad rows"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--series", "999"], "Error: series 999 does not exist"),
        (
            ["--series", "1", "--timezone", "Nowhere/Land"],
            "Error: timezone: unknown IANA timezone 'Nowhere/Land'",
        ),
    ],
)
def test_cli_import_refuses_bad_arguments_in_one_line(
    database_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    run(["demo"], cwd=tmp_path, **env)

    result = run(
        ["import-zoom-report", str(DATA / "zoom_participants.csv"), *args], cwd=tmp_path, **env
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == message


def test_cli_import_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run(["import-zoom-report", "nope.csv", "--series", "1"], cwd=tmp_path)

    assert (result.returncode, result.stderr.strip()) == (
        1,
        "Error: cannot read nope.csv: No such file or directory",
    )
