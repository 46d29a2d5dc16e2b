"""``tracker import-physicians``: good rows kept, bad rows named by line, re-runs change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from tests.factories import create_series, occurrences
from tests.physician_files import physicians_file
from tests.tracker.test_cli import run
from tracker.adapters.physicians_csv import physician_rows
from tracker.db import Database
from tracker.domain import physicians
from tracker.domain.models import AttendanceEvent, Physician
from tracker.domain.tokens import hash_token
from tracker.services import imports
from tracker.services.context import Services, load_services
from tracker.services.imports import import_physicians
from tracker.settings import Settings

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
    assert all(row["token"].startswith("phy_") for row in tokens)
    # the feed link is the read-only feed key's, never the token's (it goes to calendar services)
    assert all(re.fullmatch(r"http://\S+/feeds/cal_\S+\.ics", row["feed_url"]) for row in tokens)
    assert (tmp_path / "tokens.csv").stat().st_mode & 0o777 == 0o600


def test_a_tokens_path_that_cannot_be_written_stops_the_import_before_it_starts(
    database_url: str, tmp_path: Path
) -> None:
    """The tokens are shown once: writing them nowhere after the physicians were created (and
    welcomed) would lose them."""
    env = {"TRACKER_DATABASE_URL": database_url}
    source = str(DATA / "physicians.csv")

    refused = run(
        ["import-physicians", source, "--tokens", "no/such/folder/tokens.csv"], cwd=tmp_path, **env
    )
    after = run(["import-physicians", source, "--no-welcome"], cwd=tmp_path, **env)

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: --tokens no/such/folder/tokens.csv: No such file or directory; nothing was imported"
    ]
    assert after.stdout.strip().splitlines()[-1].startswith("3 created")  # nothing before


def test_changed_row_updates_the_physician(database_url: str, tmp_path: Path) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    source = tmp_path / "one.csv"
    source.write_text("first_name,last_name,email\nJeanne,Durand,jeanne@example.org\n")
    run(["import-physicians", str(source)], cwd=tmp_path, **env)
    source.write_text("first_name,last_name,email\nJeanne,Durand-Leclerc,JEANNE@example.org\n")

    result = run(["import-physicians", str(source)], cwd=tmp_path, **env)

    assert result.stdout.strip().splitlines()[-1] == "0 created, 1 updated, 0 unchanged, 0 bad rows"


FRENCH_EXCEL = (
    "First Name;Last_Name;EMAIL;Timezone\r\n"
    "Marie-Hélène;d’Alembert;mh.dalembert@example.fr;Europe/Paris\r\n"
    '"François";"Lœuvre; dit « FX »";fx@example.fr;\r\n'
    "Zoé;Müller;zoe@example.fr;Europe/Paris\r\n"
)


@pytest.mark.parametrize(
    "encoding", ["cp1252", "utf-8-sig", "utf-16"], ids=["windows-1252", "utf-8", "utf-16"]
)
async def test_a_french_excel_export_imports_as_typed(
    database: Database, database_url: str, tmp_path: Path, encoding: str
) -> None:
    """What Excel writes on a French Windows as "CSV (séparateur : point-virgule)": semicolons,
    Windows-1252, CRLF, column names in any case; or "CSV UTF-8", or "Unicode text"."""
    source = tmp_path / "medecins.csv"
    source.write_bytes(FRENCH_EXCEL.encode(encoding))

    result = await asyncio.to_thread(
        run, ["import-physicians", str(source)], tmp_path, TRACKER_DATABASE_URL=database_url
    )
    async with database.session() as session:
        names = (
            await session.exec(select(Physician.first_name, Physician.last_name, Physician.email))
        ).all()

    assert result.stdout.strip().splitlines()[-1] == "3 created, 0 updated, 0 unchanged, 0 bad rows"
    assert sorted(names) == [
        ("François", "Lœuvre; dit « FX »", "fx@example.fr"),
        ("Marie-Hélène", "d’Alembert", "mh.dalembert@example.fr"),
        ("Zoé", "Müller", "zoe@example.fr"),
    ]


def test_a_file_in_no_known_encoding_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(b"first_name,last_name,email\n\x81\x8d,x,y@example.org\n")

    result = run(["import-physicians", str(source)], cwd=tmp_path)

    assert (result.returncode, result.stderr.strip()) == (
        1,
        f"Error: {source} is not text in UTF-8, UTF-16 or Windows-1252",
    )


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
    assert result.stdout.strip().splitlines()[-1] == "2 created, 0 updated, 0 unchanged, 1 bad row"


def test_bad_row_is_named_by_the_line_it_starts_on(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "multiline.csv"
    source.write_text(
        "first_name,last_name,email,timezone\n"
        "Jeanne,Durand,jeanne@example.org,Europe/Paris\n"
        '"Paul\nPierre",Martin,paul@example.org,Mars/Olympus\n'
        "Anne,Roux,anne@example.org,Factory\n",
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: first_name: must be on one line, without control characters",
        "line 5: timezone: unknown IANA timezone 'Factory'",  # tzdata's placeholder, no place
    ]


# Many rows: chunks of one transaction each -------------------------------------------------------


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """What a process running the import holds: its own engine and connections."""
    database = Database(settings.database_url)
    try:
        yield await load_services(database, settings)
    finally:
        await database.close()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as opened:
        yield opened


async def _stored(database: Database) -> list[tuple[object, ...]]:
    """Every physician row, every column, in id order."""
    async with database.session() as session:
        rows = (await session.exec(select(Physician).order_by(col(Physician.id)))).all()
    return [tuple(row.model_dump().values()) for row in rows]


async def test_reimport_of_a_multi_chunk_file_changes_nothing(services: Services) -> None:
    made = physicians_file(2_500, bad_every=600)
    steps: list[int] = []

    first = await import_physicians(
        services, physician_rows(made.text), chunk_rows=1_000, progress=steps.append
    )
    stored = await _stored(services.database)
    second = await import_physicians(services, physician_rows(made.text), chunk_rows=1_000)

    assert first.counts == {"created": made.good, "updated": 0, "unchanged": 0}
    assert second.counts == {"created": 0, "updated": 0, "unchanged": made.good}
    assert [str(error) for error in first.errors] == made.errors
    assert [str(error) for error in second.errors] == made.errors
    assert steps == [1_000, 1_000, 500]
    assert len(stored) == made.good
    assert await _stored(services.database) == stored  # not one value, not one updated_at
    by_email = {row.email: row for row in await _physicians(services.database)}
    assert sorted(email for email, _ in first.tokens) == sorted(by_email)
    assert all(by_email[email].token_hash == hash_token(token) for email, token in first.tokens)
    assert second.tokens == []


async def _physicians(database: Database) -> list[Physician]:
    async with database.session() as session:
        return list((await session.exec(select(Physician))).all())


async def test_rows_of_a_multi_chunk_file_update_only_the_cells_they_give(
    services: Services,
) -> None:
    header = "first_name,last_name,email,timezone,npi\n"
    rows = [f"Jeanne,Durand,jeanne.{n}@example.org,Europe/Paris,\n" for n in range(1, 7)]
    await import_physicians(services, physician_rows(header + "".join(rows)), chunk_rows=2)
    changed = (
        header
        + "Jeanne,Durand-Leclerc,JEANNE.1@example.org,,\n"  # the empty timezone stays
        + "Jeanne,Durand,jeanne.2@example.org,America/New_York,\n"
        + "Jeanne,Durand,jeanne.3@example.org,UTC,1234567893\n"  # next chunk
        + "Jeanne,Durand,jeanne.4@example.org,Europe/Paris,\n"
        + "Inès,Moreau,ines@example.org,Europe/Paris,\n"
    )

    report = await import_physicians(services, physician_rows(changed), chunk_rows=2)

    assert report.counts == {"created": 1, "updated": 3, "unchanged": 1}
    assert report.errors == []
    assert [email for email, _ in report.tokens] == ["ines@example.org"]
    stored = {
        row.email: (row.last_name, row.timezone, row.npi)
        for row in await _physicians(services.database)
    }
    assert {email: stored[email] for email in sorted(stored)} == {
        "ines@example.org": ("Moreau", "Europe/Paris", None),
        "jeanne.1@example.org": ("Durand-Leclerc", "Europe/Paris", None),
        "jeanne.2@example.org": ("Durand", "America/New_York", None),
        "jeanne.3@example.org": ("Durand", "UTC", "1234567893"),
        "jeanne.4@example.org": ("Durand", "Europe/Paris", None),
        "jeanne.5@example.org": ("Durand", "Europe/Paris", None),
        "jeanne.6@example.org": ("Durand", "Europe/Paris", None),
    }


async def test_an_address_given_twice_in_one_file_keeps_its_first_row_and_names_the_others(
    services: Services,
) -> None:
    """Two people sharing an address (a practice's secretary), or one person twice: the later
    row took over the first one's name, and the welcome went to the wrong person."""
    text = (
        "first_name,last_name,email\n"
        "François-Xavier,Lœuvre,FX@Example.fr\n"
        "Ana,Silva,ana@example.fr\n"
        "José,García,fx@example.fr\n"  # the same address, another person, same chunk
        "Zoé,Roux,zoe@example.fr\n"
        "François-Xavier,Lœuvre,fx@EXAMPLE.FR\n"  # the first person again, next chunk
    )

    report = await import_physicians(services, physician_rows(text), chunk_rows=3)
    stored = {row.email: row.last_name for row in await _physicians(services.database)}

    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0}
    assert [str(error) for error in report.errors] == [
        "line 4: email: fx@example.fr is on line 2 already; one physician per address, so this "
        "row was left out",
        "line 6: email: fx@example.fr is on line 2 already; one physician per address, so this "
        "row was left out",
    ]
    assert stored["fx@example.fr"] == "Lœuvre"
    assert [newcomer.first_name for newcomer in report.created] == ["François-Xavier", "Ana", "Zoé"]


def test_bad_rows_in_the_middle_of_a_multi_chunk_file_are_named_by_line(
    database_url: str, tmp_path: Path
) -> None:
    made = physicians_file(2_500, bad_every=700)
    source = tmp_path / "many.csv"
    source.write_text(made.text, encoding="utf-8")

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        "line 701: npi: this NPI fails its check digit (Luhn over 80840 + the first 9 digits)",
        "line 1401: first_name: Field required",
        "line 2101: birth_month: Input should be less than or equal to 12",
    ]
    assert result.stdout.strip().splitlines()[-1] == (
        "2497 created, 0 updated, 0 unchanged, 3 bad rows"
    )


async def test_attendance_waiting_for_an_imported_physician_is_matched(
    client: TestClient, auth: dict[str, str], services: Services
) -> None:
    series = await create_series(client, auth)
    occurrence = (await occurrences(client, auth, series["id"]))[0]
    with time_machine.travel(datetime(2027, 3, 1, 12, 45, tzinfo=UTC), tick=True):
        posted = await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "early-1",
                    "occurrence_id": occurrence["id"],
                    "email": "Ines.Moreau@Example.org",
                    "kind": "join",
                    "at": "2027-03-01T11:30:00Z",
                }
            ],
            headers=auth,
        )
    assert posted.status < 300, await posted.text()
    text = "first_name,last_name,email\nInès,Moreau,ines.moreau@example.org\n"

    await import_physicians(services, physician_rows(text))

    async with services.database.session() as session:
        event = (await session.exec(select(AttendanceEvent))).one()
        physician = (await session.exec(select(Physician))).one()
    assert (event.occurrence_id, event.physician_id) == (occurrence["id"], physician.id)


# Concurrent imports ---------------------------------------------------------------

ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
RACE_FILE = (
    "first_name,last_name,email\n"
    "Jeanne,Durand,jeanne@example.org\n"
    "Paul,Martin,paul@example.org\n"
    "Claire,Petit,claire@example.org\n"
)


async def _until_waiting_on_a_lock(database: Database) -> None:
    """Until another session of this database waits for a row lock (our import's INSERT)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(400):
        async with database.engine.connect() as connection:
            if await connection.scalar(query):
                return
        await asyncio.sleep(0.025)
    raise AssertionError("the import never waited for the other transaction")


async def _hold_uncommitted_physician(session: AsyncSession) -> None:
    """Another import's transaction, not yet committed, creating claire@ with another name."""
    other = physicians.import_row(
        9, {"first_name": "Claire", "last_name": "Petit-Autre", "email": "claire@example.org"}
    )
    await physicians.import_physicians(session, [other], now=utcnow())


@ON_POSTGRESQL
async def test_a_physician_created_meanwhile_elsewhere_is_updated_not_duplicated(
    services: Services,
) -> None:
    async with services.database.session() as other:
        await _hold_uncommitted_physician(other)
        task = asyncio.create_task(import_physicians(services, physician_rows(RACE_FILE)))
        await _until_waiting_on_a_lock(services.database)
        await other.commit()
    report = await task

    assert report.counts == {"created": 2, "updated": 1, "unchanged": 0}
    assert report.errors == []
    assert [email for email, _ in report.tokens] == ["jeanne@example.org", "paul@example.org"]
    stored = {row.email: row.last_name for row in await _physicians(services.database)}
    assert stored == {
        "jeanne@example.org": "Durand",
        "paul@example.org": "Martin",
        "claire@example.org": "Petit",
    }


@ON_POSTGRESQL
async def test_a_physician_still_raced_after_the_last_attempt_is_named_by_line(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "ATTEMPTS", 1)
    async with services.database.session() as other:
        await _hold_uncommitted_physician(other)
        task = asyncio.create_task(import_physicians(services, physician_rows(RACE_FILE)))
        await _until_waiting_on_a_lock(services.database)
        await other.commit()
    report = await task

    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert [str(error) for error in report.errors] == [f"line 4: {imports.RACED}"]
    stored = {row.email: row.last_name for row in await _physicians(services.database)}
    assert stored["claire@example.org"] == "Petit-Autre"
    assert len(stored) == 3


async def test_two_imports_of_one_file_at_once_create_each_physician_once(
    settings: Settings,
) -> None:
    made = physicians_file(3_000, bad_every=1_000)
    items = list(physician_rows(made.text))
    async with open_services(settings) as one, open_services(settings) as two:
        first, second = await asyncio.gather(
            import_physicians(one, items, chunk_rows=500),
            import_physicians(two, items, chunk_rows=500),
        )
        stored = await _physicians(one.database)

    tokens = first.tokens + second.tokens
    assert [str(error) for error in first.errors] == made.errors
    assert [str(error) for error in second.errors] == made.errors
    assert first.counts["created"] + second.counts["created"] == made.good
    assert first.counts["unchanged"] + second.counts["unchanged"] == made.good
    assert first.counts["updated"] == second.counts["updated"] == 0
    assert len(stored) == len({row.email for row in stored}) == made.good
    assert sorted(email for email, _ in tokens) == sorted(row.email for row in stored)
    by_email = {row.email: row.token_hash for row in stored}
    assert all(by_email[email] == hash_token(token) for email, token in tokens)


# NPI and RPPS numbers: one physician each -------------------------------------------------------

NPI, OTHER_NPI, RPPS = "1234567893", "1245319599", "10001234567"
HOLDERS = (
    "first_name,last_name,email,npi,rpps\n"
    f"Jeanne,Durand,jeanne@example.org,{NPI},\n"
    f"Paul,Martin,paul@example.org,,{RPPS}\n"
)


async def _numbers(database: Database) -> dict[str, tuple[str | None, str | None]]:
    return {row.email: (row.npi, row.rpps) for row in await _physicians(database)}


async def test_a_row_giving_a_number_another_physician_holds_is_named_and_the_rest_imported(
    services: Services,
) -> None:
    await import_physicians(services, physician_rows(HOLDERS))
    ids = {row.email: row.id for row in await _physicians(services.database)}
    text = (
        "first_name,last_name,email,npi,rpps\n"
        f"Claire,Petit,claire@example.org,{NPI},\n"  # Jeanne's NPI
        f"Jeanne,Durand,JEANNE@example.org,{NPI},\n"  # her own, again: nothing to change
        f"Inès,Moreau,ines@example.org,{OTHER_NPI},{RPPS}\n"  # a free NPI, Paul's RPPS
        "Zoé,Roux,zoe@example.org,,\n"
    )

    first = await import_physicians(services, physician_rows(text))
    stored = await _stored(services.database)
    again = await import_physicians(services, physician_rows(text))

    expected = [
        f"line 2: npi: NPI {NPI} belongs to physician {ids['jeanne@example.org']}; one physician "
        "per NPI, so this row was left out",
        f"line 4: rpps: RPPS number {RPPS} belongs to physician {ids['paul@example.org']}; one "
        "physician per RPPS number, so this row was left out",
    ]
    assert (
        [str(error) for error in first.errors] == [str(error) for error in again.errors] == expected
    )
    assert first.counts == {"created": 1, "updated": 0, "unchanged": 1}
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    assert await _stored(services.database) == stored  # the re-import changed nothing
    assert await _numbers(services.database) == {
        "jeanne@example.org": (NPI, None),
        "paul@example.org": (None, RPPS),
        "zoe@example.org": (None, None),
    }


async def test_a_number_given_twice_in_one_file_keeps_its_first_row_and_names_the_others(
    services: Services,
) -> None:
    text = (
        "first_name,last_name,email,npi,rpps\n"
        f"Jeanne,Durand,jeanne@example.org,{NPI},{RPPS}\n"
        f"Claire,Petit,claire@example.org,{NPI},\n"  # same chunk
        "Zoé,Roux,zoe@example.org,,\n"
        f"Paul,Martin,paul@example.org,{OTHER_NPI},{RPPS}\n"  # next chunk, Jeanne's RPPS
    )

    report = await import_physicians(services, physician_rows(text), chunk_rows=3)

    assert [str(error) for error in report.errors] == [
        f"line 3: npi: NPI {NPI} is on line 2 already; one physician per NPI, so this row was "
        "left out",
        f"line 5: rpps: RPPS number {RPPS} is on line 2 already; one physician per RPPS number, "
        "so this row was left out",
    ]
    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0}
    assert await _numbers(services.database) == {
        "jeanne@example.org": (NPI, RPPS),
        "zoe@example.org": (None, None),
    }


def test_the_cli_names_a_row_giving_a_held_npi_by_its_line(
    database_url: str, tmp_path: Path
) -> None:
    env = {"TRACKER_DATABASE_URL": database_url}
    source = tmp_path / "twins.csv"
    source.write_text(
        f"first_name,last_name,email,npi\nJeanne,Durand,j@example.org,{NPI}\n"
        f"Claire,Petit,c@example.org,{NPI}\nZoé,Roux,z@example.org,\n"
    )

    result = run(["import-physicians", str(source), "--no-welcome"], cwd=tmp_path, **env)

    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == [
        f"line 3: npi: NPI {NPI} is on line 2 already; one physician per NPI, so this row was "
        "left out"
    ]
    assert result.stdout.strip().splitlines()[-1] == "2 created, 0 updated, 0 unchanged, 1 bad row"


@ON_POSTGRESQL
async def test_a_number_taken_meanwhile_elsewhere_names_the_row_after_a_new_read(
    services: Services,
) -> None:
    async with services.database.session() as other:  # another import, not yet committed
        holder = physicians.import_row(
            9,
            {
                "first_name": "Claire",
                "last_name": "Petit",
                "email": "claire@example.org",
                "npi": NPI,
            },
        )
        await physicians.import_physicians(other, [holder], now=utcnow())
        task = asyncio.create_task(import_physicians(services, physician_rows(HOLDERS)))
        await _until_waiting_on_a_lock(services.database)
        await other.commit()
    report = await task

    claire = {row.email: row.id for row in await _physicians(services.database)}[
        "claire@example.org"
    ]
    assert [str(error) for error in report.errors] == [
        f"line 2: npi: NPI {NPI} belongs to physician {claire}; one physician per NPI, so this "
        "row was left out"
    ]
    assert report.counts == {"created": 1, "updated": 0, "unchanged": 0}
    assert await _numbers(services.database) == {
        "claire@example.org": (NPI, None),
        "paul@example.org": (None, RPPS),
    }
