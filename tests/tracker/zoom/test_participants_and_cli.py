"""Report rows as facts (deterministic ids, hidden emails, unreadable rows), the webhook's
registrant id, and ``tracker zoom reconcile`` as a user runs it against the fake Zoom."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_series, job_context, occurrences
from tests.processes import TRACKER, environment
from tests.tracker.zoom.test_reconciliation import (
    INSTANCE,
    START,
    WEBINAR,
    app_client,
    fake,
    report_row,
    webhook,
    zoom_settings,
)
from tests.zoom_fake import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, loopback_only
from tracker.adapters.zoom_participants import participant_events
from tracker.adapters.zoom_webhook import to_event
from tracker.app import create_app
from tracker.db import Database
from tracker.http.keys import ZOOM
from tracker.jobs import zoom_reconcile_job
from tracker.services.context import load_services
from tracker.settings import Settings
from tracker.zoom import client_for

__all__ = ["app_client", "fake", "loopback_only", "zoom_settings"]

#: The service's clock in the tests that read facts of the session at START.
AFTER = START + timedelta(days=1)


def test_report_rows_become_closed_stays_with_ids_that_do_not_change() -> None:
    rows = [
        report_row(
            START,
            START + timedelta(minutes=30),
            user_id="16778240",
            email="Jeanne@Example.org",
            name="Jeanne",
            registrant="r1",
        ),
        report_row(
            START,
            START + timedelta(minutes=5),
            user_id="16778241",
            email="j***@example.org",
            name="J.",
        ),
        {"user_id": "3", "name": "no times", "join_time": "", "leave_time": ""},
        report_row(START + timedelta(minutes=9), START, user_id="4", email="", name="backwards"),
        {
            "user_id": "5",
            "name": "duration only",
            "join_time": "2027-03-01T11:30:00Z",
            "duration": 600,
        },
    ]

    read = functools.partial(
        participant_events, webinar_id=WEBINAR, instance=INSTANCE, occurrence_id=7, now=AFTER
    )
    first, again = read(rows), read(rows)

    assert [e.external_id for e in first.events] == [e.external_id for e in again.events]
    assert len({e.external_id for e in first.events}) == 6
    assert first.rows == 5
    assert first.bad == [
        (3, "no readable join_time and leave_time"),
        (4, "leave_time is before join_time"),
    ]
    jeanne_join, jeanne_leave = first.events[:2]
    assert (jeanne_join.kind, jeanne_leave.kind) == ("join", "leave")
    assert (jeanne_join.source, jeanne_join.email, jeanne_join.registrant_id) == (
        "report",
        "jeanne@example.org",
        "r1",
    )
    assert jeanne_join.connection_id == jeanne_leave.connection_id
    assert jeanne_join.requested_occurrence_id == 7 and jeanne_join.zoom_webinar_id == WEBINAR
    assert first.events[2].email is None  # masked: never a guessed address
    assert first.events[5].at == datetime(2027, 3, 1, 11, 40, tzinfo=UTC)


def test_report_rows_of_the_waiting_room_are_left_out() -> None:
    attending = report_row(
        START, START + timedelta(minutes=30), user_id="1", email="a@example.org", name="A"
    )
    waiting = report_row(
        START - timedelta(minutes=5), START, user_id="2", email="w@example.org", name="W"
    ) | {"status": "in_waiting_room"}

    read = participant_events(
        [waiting, attending], webinar_id=WEBINAR, instance=INSTANCE, occurrence_id=1, now=AFTER
    )

    assert (read.rows, read.waiting, read.bad) == (2, 1, [])
    assert [(e.kind, e.email) for e in read.events] == [
        ("join", "a@example.org"),
        ("leave", "a@example.org"),
    ]


def test_report_rows_in_the_future_are_bad_rows() -> None:
    rows = [
        report_row(START, START + timedelta(minutes=30), user_id="1", email="a@x.org", name="A"),
        report_row(START, START + timedelta(minutes=36), user_id="2", email="b@x.org", name="B"),
    ]

    read = participant_events(
        rows,
        webinar_id=WEBINAR,
        instance=INSTANCE,
        occurrence_id=7,
        now=START + timedelta(minutes=30),
    )

    assert [(e.kind, e.at) for e in read.events] == [
        ("join", START),
        ("leave", START + timedelta(minutes=30)),
    ]
    assert read.bad == [
        (2, "leave_time is in the future (more than 5 minutes after this service's clock)")
    ]


def test_the_webhook_reads_the_registrant_id() -> None:
    event = to_event(
        webhook(True, START, connection="9", email="", name="Marie", registrant="reg42"), now=AFTER
    )
    assert event is not None
    assert (event.registrant_id, event.email, event.zoom_webinar_id) == ("reg42", None, WEBINAR)


async def tracker(args: list[str], cwd: Path, **env: str) -> tuple[int, str, str]:
    """``tracker ARGS`` as a process, without blocking this loop (the fake Zoom runs in it)."""
    process = await asyncio.create_subprocess_exec(
        TRACKER,
        *args,
        cwd=cwd,
        env=environment() | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


def _zoom_environment(settings: Settings) -> dict[str, str]:
    """The variables of a ``tracker`` process that reads this database and the fake Zoom."""
    return {
        "TRACKER_DATABASE_URL": settings.database_url,
        "TRACKER_ZOOM_ACCOUNT_ID": ACCOUNT,
        "TRACKER_ZOOM_CLIENT_ID": CLIENT_ID,
        "TRACKER_ZOOM_CLIENT_SECRET": CLIENT_SECRET,
        "TRACKER_ZOOM_API_URL": settings.zoom_api_url,
        "TRACKER_ZOOM_OAUTH_URL": settings.zoom_oauth_url,
    }


@pytest.mark.any_engine
async def test_tracker_zoom_reconcile_prints_one_line(
    app_client: TestClient,
    auth: dict[str, str],
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
    tmp_path: Path,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    past = datetime.now(UTC) - timedelta(days=1)  # a process of its own: the real clock
    zoom.reports[INSTANCE] = [
        report_row(
            past, past + timedelta(minutes=30), user_id="1", email="nobody@example.org", name="N"
        )
    ]
    env = _zoom_environment(zoom_settings)

    done = await tracker(["zoom", "reconcile", "--occurrence", str(first["id"])], tmp_path, **env)
    unknown = await tracker(["zoom", "reconcile", "--occurrence", "999999"], tmp_path, **env)
    missing = await tracker(
        ["zoom", "reconcile", "--occurrence", str(first["id"])],
        tmp_path,
        TRACKER_DATABASE_URL=zoom_settings.database_url,
    )
    half = await tracker(
        ["zoom", "reconcile", "--occurrence", "1"], tmp_path, TRACKER_ZOOM_ACCOUNT_ID=ACCOUNT
    )
    zoom.failures["participants"] = [(404, None)]
    failed = await tracker(["zoom", "reconcile", "--occurrence", str(first["id"])], tmp_path, **env)

    assert done == (0, f"occurrence {first['id']}: 1 report row, 2 new facts\n", "")
    assert unknown[0] == 1 and unknown[2] == "Error: occurrence 999999 does not exist\n"
    assert missing[0] == 1 and missing[2].startswith("Error: the Zoom account is not configured")
    assert half[0] == 1 and half[2] == (
        "Error: configuration error: TRACKER_ZOOM_ACCOUNT_ID, TRACKER_ZOOM_CLIENT_ID and "
        "TRACKER_ZOOM_CLIENT_SECRET go together: set all three or none\n"
    )
    assert failed[0] == 1
    assert failed[2].count("\n") == 1 and "reconciliation failed: Zoom answered 404" in failed[2]


@pytest.mark.any_engine
async def test_tracker_zoom_reconcile_names_the_report_rows_it_could_not_read(
    app_client: TestClient,
    auth: dict[str, str],
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
    tmp_path: Path,
) -> None:
    """A row without times and a row dated tomorrow are left out, and said so (they were
    dropped without a word before)."""
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    past = datetime.now(UTC) - timedelta(days=1)
    zoom.reports[INSTANCE] = [
        report_row(
            past, past + timedelta(minutes=30), user_id="1", email="a@example.org", name="A"
        ),
        {"user_id": "2", "name": "B", "join_time": "", "leave_time": ""},
        report_row(past, past + timedelta(days=2), user_id="3", email="c@example.org", name="C"),
    ]
    env = _zoom_environment(zoom_settings)

    status, out, err = await tracker(
        ["zoom", "reconcile", "--occurrence", str(first["id"])], tmp_path, **env
    )

    assert status == 0
    assert out == f"occurrence {first['id']}: 3 report rows, 2 new facts, 2 unreadable rows\n"
    assert f"left out: instance {INSTANCE}, row 2: no readable join_time and leave_time\n" in err
    assert f"left out: instance {INSTANCE}, row 3: leave_time is in the future" in err
    assert err.count("\n") == 2


async def test_the_reconciliation_job_logs_the_report_rows_it_could_not_read(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    zoom_settings: Settings,
    fake: tuple[FakeZoom, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    zoom, _ = fake
    series = await create_series(app_client, auth, zoom_webinar_id=WEBINAR)
    first = (await occurrences(app_client, auth, series["id"]))[0]
    zoom.reports[INSTANCE] = [
        {"user_id": str(n), "name": "?", "join_time": "", "leave_time": ""} for n in range(7)
    ]
    with time_machine.travel(AFTER, tick=True):
        client = client_for(zoom_settings)
        assert client is not None
        services = await load_services(database, zoom_settings)
        async with client:
            await zoom_reconcile_job(
                replace(job_context(database, scheduler), zoom=client, services=services)
            )

    (line,) = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert caplog.records[-1].levelname == "WARNING"
    assert line.startswith(
        f"Zoom reconciliation of occurrence {first['id']}: 7 report row(s) could not be read "
        f"and were left out: instance {INSTANCE}, row 1: no readable join_time and leave_time; "
    )
    assert line.count("no readable") == 5 and line.endswith("; ...")


async def test_the_zoom_jobs_run_only_with_the_account_configured(
    aiohttp_client: Any, settings: Settings, zoom_settings: Settings
) -> None:
    from tracker.jobs import SCHEDULER

    plain = await aiohttp_client(create_app(settings.model_copy(update={"scheduler": "on"})))
    configured = await aiohttp_client(
        create_app(zoom_settings.model_copy(update={"scheduler": "on"}))
    )

    def zoom_jobs(client: TestClient) -> set[str]:
        return {j.id for j in client.app[SCHEDULER].get_jobs() if j.id.startswith("zoom-")}

    assert zoom_jobs(plain) == set()
    assert ZOOM not in plain.app
    assert zoom_jobs(configured) == {"zoom-registrants", "zoom-reconcile"}
    assert ZOOM in configured.app
