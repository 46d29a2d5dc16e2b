"""The completions export as ACCME PARS needs it (issue 15 point 10), read back with Python's csv

pytestmark = pytest.mark.any_engine
module: UTF-8 with a byte-order mark, the series' PARS activity id, one row per learner and board
with the board and its id apart, the state licence, no MOC value for a physician without that
board's id, and the same rows tab-delimited. Plus the fields behind it (series, physicians, CSV
import, organiser form) and migration 0006 both ways, on both engines."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from alembic import command
from sqlalchemy import Connection, inspect, update
from sqlmodel import col

from tests.factories import create_physician, create_series, occurrences, series_body
from tests.tracker.http.api.test_attendance_api import DURING, event
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tests.tracker.test_cli import run
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.migrate import alembic_config, upgrade
from tracker.services.finalisation import finalize

WINDOW = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z"}
CREDITS = [{"type": "AMA_PRA_1", "max": 1.0}, {"type": "ABIM_MOC", "max": 1.0}]


async def _final_world(client: TestClient, auth: dict[str, str], database: Database) -> None:
    """One session with final credits for Jeanne (two boards, a licence), Paul (no board) and
    Léa (another board only)."""
    series = await create_series(
        client,
        auth,
        start="2026-11-02T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=MO",
        credits=CREDITS,
        pars_activity_id="ACT-2026-0042",
    )
    first = (await occurrences(client, auth, series["id"]))[0]
    people = [
        await create_physician(
            client,
            auth,
            birth_month=4,
            birth_day=9,
            board_ids={"ABIM": "778899", "ABP": "4410"},
            license_state="ny",
            license_number="MD-204113",
        ),
        await create_physician(
            client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
        ),
        await create_physician(
            client,
            auth,
            first_name="Léa",
            last_name="Tab Séparée",
            email="lea@example.org",
            npi=None,
            board_ids={"ABS": "5150"},
        ),
    ]
    async with database.session() as session:  # a tab typed before names were checked
        await session.exec(
            update(Physician)
            .where(col(Physician.id) == people[2]["id"])
            .values(last_name="Tab\tSéparée")
        )
        await session.commit()
    events = [
        event(f"{kind}{p['id']}", kind, at, occurrence_id=first["id"], physician_id=p["id"])
        for p in people
        for kind, at in (("join", "2026-11-02T11:30:00Z"), ("leave", "2026-11-02T12:30:00Z"))
    ]
    with time_machine.travel(DURING, tick=True):
        response = await client.post("/api/attendance-events", json=events, headers=auth)
        assert response.status == 202, await response.text()
    await finalize(
        database, first["id"], now=DURING + timedelta(hours=2), grace=timedelta(minutes=90)
    )


async def test_completions_csv_is_utf8_with_bom_and_one_row_per_learner_and_board(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await _final_world(client, auth, database)

    response = await client.get("/api/exports/completions.csv", params=WINDOW, headers=auth)
    body = await response.read()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert body[:3] == b"\xef\xbb\xbf"
    assert body.count(b"\xef\xbb\xbf") == 1
    assert [
        (
            r["last_name"],
            r["board"],
            r["board_id"],
            r["license_state"],
            r["license_number"],
            r["birth_month"],
            r["birth_day"],
            r["AMA_PRA_1"],
            r["ABIM_MOC"],
        )
        for r in rows
    ] == [
        ("Durand", "ABIM", "778899", "NY", "MD-204113", "4", "9", "1", "1"),
        ("Durand", "ABP", "4410", "NY", "MD-204113", "4", "9", "1", ""),
        ("Martin", "", "", "", "", "", "", "1", ""),  # no board: one row, no MOC value
        ("Tab\tSéparée", "ABS", "5150", "", "", "", "", "1", ""),  # no ABIM id: no ABIM MOC
    ]
    assert {(r["activity_id"], r["completion_date"], r["series_title"]) for r in rows} == {
        ("ACT-2026-0042", "2026-11-02", "Les lundis de la santé numérique")
    }
    assert "board_ids" not in rows[0]


async def test_completions_txt_holds_the_same_rows_tab_delimited(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await _final_world(client, auth, database)

    tab = await client.get("/api/exports/completions.txt", params=WINDOW, headers=auth)
    body = await tab.read()
    text = body.decode("utf-8")
    records = list(
        csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    )
    comma = await client.get("/api/exports/completions.csv", params=WINDOW, headers=auth)
    expected = list(csv.reader(io.StringIO((await comma.read()).decode("utf-8-sig"), newline="")))

    assert tab.headers["Content-Type"] == "text/tab-separated-values; charset=utf-8"
    assert tab.headers["Content-Disposition"] == 'attachment; filename="completions.txt"'
    assert not body.startswith(b"\xef\xbb\xbf")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert {len(record) for record in records} == {len(expected[0])}
    assert records == [
        [cell.replace("\t", " ") for cell in record] for record in expected
    ]  # a tab inside a name becomes a space; nothing else differs
    assert [r[records[0].index("board")] for r in records[1:]] == ["ABIM", "ABP", "", "ABS"]


async def test_series_api_stores_shows_and_clears_the_pars_activity_id(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth, pars_activity_id="202612345")

    shown = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()
    changed = await client.patch(
        f"/api/series/{created['id']}", json={"pars_activity_id": "ACT-7"}, headers=auth
    )
    cleared = await client.patch(
        f"/api/series/{created['id']}", json={"pars_activity_id": None}, headers=auth
    )

    assert shown["pars_activity_id"] == "202612345"
    assert (await changed.json())["pars_activity_id"] == "ACT-7"
    assert (await cleared.json())["pars_activity_id"] is None


@pytest.mark.parametrize("value", ["", "ACT 7", "ACT\t7", "-ACT", "x" * 51, "=HYPERLINK(1)"])
async def test_series_api_refuses_a_pars_activity_id_that_would_break_the_export(
    client: TestClient, auth: dict[str, str], value: str
) -> None:
    response = await client.post(
        "/api/series", json=series_body(pars_activity_id=value), headers=auth
    )

    assert (response.status, response.content_type) == (422, "application/problem+json")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("license_state", "ZZ"),
        ("license_state", "New York"),
        ("license_number", ""),
        ("license_number", "MD 1234"),
        ("license_number", "x" * 31),
    ],
)
async def test_physician_api_refuses_a_bad_licence(
    client: TestClient, auth: dict[str, str], field: str, value: str
) -> None:
    created = await create_physician(client, auth)

    response = await client.patch(
        f"/api/physicians/{created['id']}", json={field: value}, headers=auth
    )

    assert (response.status, response.content_type) == (422, "application/problem+json")


async def test_physician_api_stores_and_clears_the_licence(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_physician(client, auth, license_state="ca", license_number="G12345")

    cleared = await client.patch(
        f"/api/physicians/{created['id']}",
        json={"license_state": None, "license_number": None},
        headers=auth,
    )

    assert (created["license_state"], created["license_number"]) == ("CA", "G12345")
    assert ((await cleared.json())["license_state"], (await cleared.json())["license_number"]) == (
        None,
        None,
    )


def test_physician_csv_import_reads_the_licence_columns(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "physicians.csv"
    source.write_text(
        "first_name,last_name,email,license_state,license_number\n"
        "Jeanne,Durand,jeanne@example.org,NY,MD-204113\n"
        "Paul,Martin,paul@example.org,Québec,123\n",
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("line 3: license_state: ")
    assert result.stdout.strip().splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 1 bad row"


async def test_series_form_saves_the_pars_activity_id_and_a_spaced_webinar_id(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth)
    cookie = await organiser_cookie(database)
    page = await client.get(f"/organizer/series/{created['id']}", headers=cookie)
    form = Forms(await page.text()).by_id("series-form")
    form.update(pars_activity_id="ACT-2026-0042", zoom_webinar_id="812 3456 7890")

    saved = await client.post(
        f"/organizer/series/{created['id']}", data=form, headers=cookie, allow_redirects=False
    )
    series = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    assert saved.status == 303, await saved.text()
    assert (series["pars_activity_id"], series["zoom_webinar_id"]) == (
        "ACT-2026-0042",
        "81234567890",
    )


def _columns(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in ("series", "physician")
    }


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_migration_0006_adds_and_removes_the_pars_columns(database: Database) -> None:
    added = {"series": {"pars_activity_id"}, "physician": {"license_state", "license_number"}}
    async with database.engine.begin() as connection:
        at_head = await connection.run_sync(_columns)
        await connection.run_sync(_downgrade, "0005")
        at_0005 = await connection.run_sync(_columns)
    await upgrade(database.url)
    async with database.engine.connect() as connection:
        again: dict[str, Any] = await connection.run_sync(_columns)

    assert {table: added[table] & at_head[table] for table in added} == added
    assert {table: added[table] & at_0005[table] for table in added} == {
        "series": set(),
        "physician": set(),
    }
    assert again == at_head
