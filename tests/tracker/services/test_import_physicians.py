"""``tracker import-physicians``: good rows kept, bad rows named by line, re-runs change nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.tracker.test_cli import run

DATA = Path(__file__).parents[2] / "data"


def test_import_reports_bad_rows_and_is_idempotent(database_url: str, tmp_path: Path) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    source = str(DATA / "physicians.csv")

    first = run(["import-physicians", source, "--tokens", "tokens.csv"], cwd=tmp_path, **env)
    second = run(["import-physicians", source], cwd=tmp_path, **env)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "3 created, 0 updated, 0 unchanged, 3 bad rows"
    assert [line for line in first.stderr.splitlines() if line.startswith("line ")] == [
        "line 4: timezone: unknown IANA timezone 'Mars/Olympus'",
        "line 5: npi: this NPI fails its check digit (Luhn over 80840 + the first 9 digits)",
        "line 6: first_name: Field required",
    ]
    assert second.stdout.strip().splitlines()[-1] == "0 created, 0 updated, 3 unchanged, 3 bad rows"
    tokens = list(csv.DictReader(io.StringIO((tmp_path / "tokens.csv").read_text())))
    assert [row["email"] for row in tokens] == [
        "jeanne.durand@example.org",
        "paul@example.org",
        "ines.moreau@example.org",
    ]
    assert (tmp_path / "tokens.csv").stat().st_mode & 0o777 == 0o600


def test_changed_row_updates_the_physician(database_url: str, tmp_path: Path) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    source = tmp_path / "one.csv"
    source.write_text("first_name,last_name,email\nJeanne,Durand,jeanne@example.org\n")
    run(["import-physicians", str(source)], cwd=tmp_path, **env)
    source.write_text("first_name,last_name,email\nJeanne,Durand-Leclerc,JEANNE@example.org\n")

    result = run(["import-physicians", str(source)], cwd=tmp_path, **env)

    assert result.stdout.strip().splitlines()[-1] == "0 created, 1 updated, 0 unchanged, 0 bad rows"


def test_file_without_required_columns_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("name,mail\nJeanne,j@example.org\n")

    result = run(["import-physicians", str(source)], cwd=tmp_path)

    assert (result.returncode, result.stderr.strip()) == (
        1,
        "Error: line 1: the header lacks the column(s): email, first_name, last_name",
    )


def test_row_with_a_nul_byte_is_refused_by_line_and_the_others_imported(
    database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "nul.csv"
    source.write_text(
        "first_name,last_name,email\n"
        "Jeanne,Durand,jeanne@example.org\n"
        "Paul,Mar\x00tin,paul@example.org\n"
        "Inès,Moreau,ines@example.org\n",
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: a field holds a NUL character (U+0000)"
    ]
    assert result.stdout.strip().splitlines()[-1] == "2 created, 0 updated, 0 unchanged, 1 bad rows"


def test_bad_row_is_named_by_the_line_it_starts_on(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "multiline.csv"
    source.write_text(
        "first_name,last_name,email,timezone\n"
        "Jeanne,Durand,jeanne@example.org,Europe/Paris\n"
        '"Paul\nPierre",Martin,paul@example.org,Mars/Olympus\n',
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: timezone: unknown IANA timezone 'Mars/Olympus'"
    ]
