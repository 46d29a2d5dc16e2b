"""Zoom's participant report: read row by row, bad rows reported, a second import adds nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_physician, create_series, every_item, series_body
from tests.tracker.test_cli import run
from tracker.adapters.zoom_report import parse_report, read_report
from tracker.db import Database
from tracker.errors import ReportFormatError
from tracker.services.demo import load_demo

pytestmark = pytest.mark.any_engine

DATA = Path(__file__).parents[2] / "data"
PARIS = ZoneInfo("Europe/Paris")


def test_parse_reads_stays_in_the_report_timezone_and_reports_bad_rows() -> None:
    stays, bad = parse_report(
        (DATA / "zoom_participants.csv").read_text(encoding="utf-8"), PARIS, order="mdy"
    )

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
        None,  # a guest without email: a stay kept unmatched, as the webhook does (issue 15)
        "ines.moreau@example.org",
    ]
    assert stays[-1].leave == datetime(
        2026, 11, 2, 12, 15, tzinfo=UTC
    )  # no leave time: join + duration
    assert [(b.line, b.reason) for b in bad] == [
        (10, "unreadable time 'yesterday noon'"),
        (11, "leave time is before join time"),
    ]


def test_a_file_without_the_participant_header_is_refused() -> None:
    with pytest.raises(ReportFormatError, match="Join Time"):
        parse_report("a,b\n1,2\n", PARIS)


def _resaved(text: str, delimiter: str) -> str:
    """``text`` as a spreadsheet saves it with another separator: a byte-order mark, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(csv.reader(io.StringIO(text)))
    return "\ufeff" + out.getvalue()


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolons", "tabs"])
@pytest.mark.parametrize(
    "path",
    [DATA / "zoom_participants.csv", DATA / "zoom_webinar_attendees.csv"],
    ids=["participants", "attendees"],
)
def test_a_report_saved_with_semicolons_or_tabs_reads_as_with_commas(
    path: Path, delimiter: str
) -> None:
    text = path.read_text(encoding="utf-8")

    resaved = read_report(_resaved(text, delimiter), PARIS, order="mdy")

    assert resaved == read_report(text, PARIS, order="mdy")
    assert resaved.stays


WAITING = "John Smith,john@example.org,11/02/2026 12:40:00 PM,11/02/2026 12:45:00 PM,5,No,,Yes\n"


def test_rows_of_the_waiting_room_are_left_out() -> None:
    text = (DATA / "zoom_participants.csv").read_text(encoding="utf-8")

    report = read_report(text + WAITING, PARIS, order="mdy")

    assert report.stays == read_report(text, PARIS, order="mdy").stays
    assert dict(report.left_out) == {"waiting": 1}


#: The demo series as loaded on this day holds the reports' session (Monday 2 November 2026),
#: whatever day the tests run on.
DEMO_LOADED = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def _load_demo(database_url: str) -> None:
    """``tracker demo`` as run on :data:`DEMO_LOADED` (the demo starts four weeks before)."""

    async def work() -> None:
        database = Database(database_url)
        try:
            assert await load_demo(database, now=DEMO_LOADED) is not None
        finally:
            await database.close()

    asyncio.run(work())


def _setup_cli(tmp_path: Path, database_url: str) -> tuple[str, str]:
    env = {"TRACKER_DATABASE_URL": database_url}
    _load_demo(database_url)
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
        == "12 events recorded, 0 already known, 2 unmatched, 2 bad rows"
    )  # the guest without email is kept unmatched instead of being a bad row (issue 15)
    assert "line 10: unreadable time 'yesterday noon'" in first.stderr
    assert (
        second.stdout.strip().splitlines()[-1]
        == "0 events recorded, 12 already known, 0 unmatched, 2 bad rows"
    )


def test_cli_import_counts_the_waiting_room_as_left_out(database_url: str, tmp_path: Path) -> None:
    _setup_cli(tmp_path, database_url)
    report = tmp_path / "r1.csv"
    report.write_text(
        (DATA / "zoom_participants.csv").read_text(encoding="utf-8") + WAITING, encoding="utf-8"
    )

    result = run(
        ["import-zoom-report", str(report), "--series", "1"],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-2:] == [
        "left out: 1 waiting-room row(s)",
        "12 events recorded, 0 already known, 2 unmatched, 2 bad rows",
    ]


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
    _load_demo(database_url)

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


# --- The webinar attendee report (Reports > Webinar > Attendee report), issue 15 point 9 ---

US_REPORT = DATA / "zoom_webinar_attendees.csv"  # US locale: 11/02/2026 12:28:40 PM
DMY_REPORT = DATA / "zoom_webinar_attendees_dmy.csv"  # older layout, day first, 24 h
LEARNERS = {
    "jeanne": ("Jeanne", "Durand", "jeanne.durand@example.org"),
    "ines": ("Inès", "Moreau", "ines.moreau@example.org"),
    "marc": ("Marc", "Leroy", "marc@example.org"),
    "paul": ("Paul", "Martin", "paul@example.org"),  # registered, did not attend
    "hugo": ("Hugo", "Bernard", "hugo.bernard@example.org"),  # panelist: faculty, not a learner
}


@pytest.mark.parametrize("path", [US_REPORT, DMY_REPORT], ids=["us", "day-first"])
def test_attendee_report_reads_each_section_by_its_own_header(path: Path) -> None:
    report = read_report(path.read_text(encoding="utf-8"), PARIS)

    assert [(s.line, s.email, s.join, s.leave) for s in report.stays] == [
        (
            13,
            "jeanne.durand@example.org",
            datetime(2026, 11, 2, 11, 28, 40, tzinfo=UTC),
            datetime(2026, 11, 2, 12, 31, 10, tzinfo=UTC),
        ),
        (
            14,
            "jeanne.durand@example.org",
            datetime(2026, 11, 2, 11, 50, tzinfo=UTC),
            datetime(2026, 11, 2, 12, 10, tzinfo=UTC),
        ),
        (
            16,
            "ines.moreau@example.org",
            datetime(2026, 11, 2, 11, 31, 5, tzinfo=UTC),
            datetime(2026, 11, 2, 12, 2, 10, tzinfo=UTC),
        ),
        (
            17,
            None,  # a guest without email
            datetime(2026, 11, 2, 11, 40, tzinfo=UTC),
            datetime(2026, 11, 2, 12, 20, tzinfo=UTC),
        ),
        (
            20,
            "marc@example.org",  # "Other Attended"
            datetime(2026, 11, 2, 11, 45, tzinfo=UTC),
            datetime(2026, 11, 2, 12, 30, tzinfo=UTC),
        ),
    ]
    assert (report.bad, dict(report.left_out), report.webinar_id) == (
        [],
        {"host": 1, "panelist": 1, "absent": 1},
        "81234567890",  # typed "812 3456 7890" or "812-3456-7890" in the file
    )


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            ["13/02/2026 10:00:00", "02/13/2026 10:00:00"],
            "dates contradict each other: line 3 is day first, line 4 month first",
        ),
        (
            ["03/04/2026 10:00:00 AM", "03/04/2026 11:00:00 AM"],
            "line 3: the date '03/04/2026 10:00:00 AM' reads both day first and month first, "
            "and no date in the file decides; give --date-order mdy or dmy",
        ),
    ],
    ids=["contradicting", "undecided"],
)
def test_numeric_dates_the_file_cannot_decide_are_refused(cells: list[str], message: str) -> None:
    text = "Attendee Details\nAttended,User Name,Email,Join Time,Leave Time\n" + "".join(
        f"Yes,Jeanne,jeanne@example.org,{cell},{cell}\n" for cell in cells
    )

    with pytest.raises(ReportFormatError) as refused:
        read_report(text, PARIS)

    assert str(refused.value) == message


def _import(path: Path, database_url: str, tmp_path: Path, *args: str) -> CompletedProcess[str]:
    return run(
        ["import-zoom-report", str(path), *args],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )


async def _webinar_world(
    client: TestClient, auth: dict[str, str], **series: Any
) -> tuple[int, dict[str, int]]:
    created = await create_series(
        client,
        auth,
        **{
            "start": "2026-11-02T12:30:00",
            "rrule": "FREQ=WEEKLY;COUNT=4;BYDAY=MO",
            "zoom_webinar_id": "812 3456 7890",  # as Zoom prints it
            **series,
        },
    )
    ids = {}
    for key, (first, last, email) in LEARNERS.items():
        physician = await create_physician(
            client, auth, first_name=first, last_name=last, email=email, npi=None
        )
        ids[key] = physician["id"]
    return created["id"], ids


async def _totals(client: TestClient, auth: dict[str, str], ids: dict[str, int]) -> dict[str, Any]:
    totals = {}
    for key, physician_id in ids.items():
        summary = await (
            await client.get(f"/api/physicians/{physician_id}/credits", headers=auth)
        ).json()
        totals[key] = summary["totals"].get("AMA_PRA_1", 0.0)
    return totals


@pytest.mark.parametrize("path", [US_REPORT, DMY_REPORT], ids=["us", "day-first"])
async def test_cli_import_of_a_webinar_attendee_report_credits_the_attendees_only(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path, path: Path
) -> None:
    series_id, ids = await _webinar_world(client, auth)

    result = await asyncio.to_thread(
        _import, path, database_url, tmp_path, "--series", str(series_id)
    )
    unmatched = await every_item(client, auth, "/api/attendance-events/unmatched")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-2:] == [
        "left out: 1 host row(s), 1 panelist row(s), 1 registrant(s) who did not attend",
        "10 events recorded, 0 already known, 2 unmatched, 0 bad rows",
    ]
    assert await _totals(client, auth, ids) == {
        "jeanne": 1.0,  # two devices, counted once
        "ines": 0.5,  # 31 minutes
        "marc": 0.75,  # 45 minutes, listed under "Other Attended"
        "paul": 0.0,  # registered, "Attended: No"
        "hugo": 0.0,  # panelist
    }
    assert [(row["kind"], row["email"], row["reason"]) for row in unmatched] == [
        (kind, None, "no email address (Invité 3) to match a physician by")
        for kind in ("join", "leave")
    ]


async def test_cli_import_reads_an_undecided_report_the_way_that_lands_on_the_series(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """02/11/2026 with no day above 12 anywhere: 2 November is a Monday session of the series,
    11 February is no session, so the file is read day first."""
    series_id, ids = await _webinar_world(client, auth)
    report = tmp_path / "undecided.csv"
    report.write_text(
        DMY_REPORT.read_text(encoding="utf-8")
        .replace("28/10/2026", "09/10/2026")
        .replace("29/10/2026", "09/10/2026")
        .replace("30/10/2026", "09/10/2026"),
        encoding="utf-8",
    )

    result = await asyncio.to_thread(
        _import, report, database_url, tmp_path, "--series", str(series_id)
    )

    assert result.returncode == 0, result.stderr
    assert (await _totals(client, auth, ids))["jeanne"] == 1.0


async def test_cli_import_refuses_dates_neither_the_file_nor_the_series_decide(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """A series on Mondays and Wednesdays has a session on 2 November and on 11 February."""
    series_id, ids = await _webinar_world(
        client,
        auth,
        start="2026-02-02T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=80;BYDAY=MO,WE",
        zoom_webinar_id=None,
    )
    report = tmp_path / "undecided.csv"
    report.write_text(
        "\n".join(
            line
            for line in DMY_REPORT.read_text(encoding="utf-8").splitlines()
            if "/10/2026" not in line  # no registration date left to decide
        ),
        encoding="utf-8",
    )

    refused = await asyncio.to_thread(
        _import, report, database_url, tmp_path, "--series", str(series_id)
    )
    forced = await asyncio.to_thread(
        _import, report, database_url, tmp_path, "--series", str(series_id), "--date-order", "dmy"
    )

    assert (refused.returncode, refused.stderr.strip().splitlines()[-1]) == (
        1,
        f"Error: {report}: line 4: the date '02/11/2026 12:24' reads both day first and month "
        "first, and no date in the file decides; give --date-order mdy or dmy",
    )
    assert forced.returncode == 0, forced.stderr
    assert (await _totals(client, auth, ids))["marc"] == 0.75


async def test_cli_import_refuses_the_report_of_another_webinar(
    client: TestClient, auth: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    series_id, _ = await _webinar_world(client, auth, zoom_webinar_id="85512345678")

    result = await asyncio.to_thread(
        _import, US_REPORT, database_url, tmp_path, "--series", str(series_id)
    )

    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        1,
        f"Error: {US_REPORT}: the report is for Zoom webinar 81234567890, "
        f"series {series_id} is webinar 85512345678",
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("812 3456 7890", "81234567890"),
        ("812-3456-7890", "81234567890"),
        ("81234567890", "81234567890"),
    ],
)
async def test_series_api_accepts_a_webinar_id_typed_with_spaces(
    client: TestClient, auth: dict[str, str], typed: str, stored: str
) -> None:
    created = await create_series(client, auth, zoom_webinar_id=None)

    patched = await client.patch(
        f"/api/series/{created['id']}", json={"zoom_webinar_id": typed}, headers=auth
    )
    posted = await client.post("/api/series", json=series_body(zoom_webinar_id=typed), headers=auth)
    read = await (
        await client.get(f"/api/series/{(await posted.json())['id']}", headers=auth)
    ).json()

    assert (patched.status, (await patched.json())["zoom_webinar_id"]) == (200, stored)
    assert read["zoom_webinar_id"] == stored


@pytest.mark.parametrize("typed", ["812  3456 7890", "812 3456 789x", "1234 5678", " 81234567890"])
async def test_series_api_refuses_what_is_not_a_webinar_id(
    client: TestClient, auth: dict[str, str], typed: str
) -> None:
    response = await client.post(
        "/api/series", json=series_body(zoom_webinar_id=typed), headers=auth
    )

    assert (response.status, response.content_type) == (422, "application/problem+json")


def test_a_stay_in_the_future_is_a_bad_row_named_by_its_line() -> None:
    text = (
        "Name (Original Name),User Email,Join Time,Leave Time\n"
        "Jeanne,jeanne@example.org,2026-11-02 12:30:00,2026-11-02 13:30:00\n"
        "Paul,paul@example.org,2026-11-23 12:30:00,2026-11-23 13:30:00\n"
        "Inès,ines@example.org,2026-11-02 12:30:00,2026-11-02 14:00:00\n"
    )
    now = datetime(2026, 11, 2, 12, 50, tzinfo=UTC)  # 13:50 in Paris

    stays, bad = parse_report(text, PARIS, now=now)

    assert [s.line for s in stays] == [2]
    assert [(b.line, b.reason) for b in bad] == [
        (3, "join time is in the future (more than 5 minutes after this service's clock)"),
        (4, "leave time is in the future (more than 5 minutes after this service's clock)"),
    ]
