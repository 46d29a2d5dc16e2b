"""A session's attendance page in figures (issue 12): the summary, the chart's time axis in the
series' timezone, the CSV of every attendee, and the completions export from the page."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_physician, create_series, occurrences
from tests.tracker.http.pages.test_organiser_pages import (
    AFTER_GRACE,
    FIRST_START,
    _attended_and_final,
    organiser_cookie,
)
from tracker.db import Database

STAYS = {  # 11:30 to 12:30 UTC: 60, 30 and 50 minutes
    "a": ("2026-11-02T11:30:00Z", "2026-11-02T12:30:00Z"),
    "b": ("2026-11-02T11:30:00Z", "2026-11-02T12:00:00Z"),
    "c": ("2026-11-02T11:40:00Z", "2026-11-02T12:30:00Z"),
}


async def _three_attendees(
    client: TestClient, auth: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    series = await create_series(
        client,
        auth,
        start=FIRST_START,
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=MO",
        min_attendance_percent=75,
        credits=[{"type": "AMA_PRA_1", "max": 1.0}],
    )
    first = (await occurrences(client, auth, series["id"]))[0]
    events = []
    for name, (join, leave) in STAYS.items():
        who = await create_physician(
            client,
            auth,
            first_name=name.upper(),
            last_name=f"=Nom {name}",
            email=f"{name}@example.org",
            npi=None,
        )
        await client.post(
            f"/api/series/{series['id']}/registrations",
            json={"physician_id": who["id"]},
            headers=auth,
        )
        for kind, at in (("join", join), ("leave", leave)):
            events.append(
                {
                    "event_id": f"{name}-{kind}",
                    "occurrence_id": first["id"],
                    "physician_id": who["id"],
                    "kind": kind,
                    "at": at,
                }
            )
    posted = await client.post("/api/attendance-events", json=events, headers=auth)
    assert posted.status == 202, await posted.text()
    return series, first


async def test_the_attendance_page_sums_up_the_session_and_draws_a_time_axis(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(AFTER_GRACE, tick=False):
        _, first = await _three_attendees(client, auth)
        cookie = await organiser_cookie(database)
        html = await (
            await client.get(f"/organizer/occurrences/{first['id']}?lang=en", headers=cookie)
        ).text()
        french = await (
            await client.get(f"/organizer/occurrences/{first['id']}?lang=fr", headers=cookie)
        ).text()

    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", html))
    assert facts["Registered"] == "3"
    assert facts["Attended"] == "3"
    assert facts["Median minutes connected"] == "50"
    assert facts["Share of attendees over the minimum attendance"].startswith("67% (2;")
    # French numbers in French: a decimal comma, a space before %
    french_facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", unescape(french)))
    assert any(v.startswith("67\u00a0% (2;") for v in french_facts.values()), french_facts
    assert "1,0" in unescape(french) and "1.0" not in unescape(french).split("<table>")[1]
    # on a phone the table's head is hidden: each number cell names its column itself
    assert '<span class="cell-label">Minutes\u00a0: </span>50' in unescape(french)
    assert '<span class="cell-label">Crédits\u00a0: </span>' in unescape(french)
    assert "<h1>Présence\u00a0: " in unescape(french)  # French typography: a space before ":"
    assert ">12:30</text>" in html and ">13:00</text>" in html  # Paris times on the axis
    assert f'href="/organizer/occurrences/{first["id"]}/attendance.csv"' in html


async def test_the_attendance_csv_lists_every_attendee_with_safe_cells(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(AFTER_GRACE, tick=False):
        _, first = await _three_attendees(client, auth)
        cookie = await organiser_cookie(database)
        answer = await client.get(
            f"/organizer/occurrences/{first['id']}/attendance.csv", headers=cookie
        )
        text = await answer.text()
        missing = await client.get("/organizer/occurrences/999999/attendance.csv", headers=cookie)

    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert answer.status == 200 and answer.content_type == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert rows[0][:7] == ["last_name", "first_name", "email", "npi", "rpps", "minutes", "status"]
    assert {r[2]: r[5] for r in rows[1:]} == {
        "a@example.org": "60.00",
        "b@example.org": "30.00",
        "c@example.org": "50.00",
    }
    assert all(not r[0].startswith("=") for r in rows[1:])  # no spreadsheet formula
    assert missing.status == 404


async def test_the_completions_export_from_the_page_takes_a_date_range(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await _attended_and_final(client, auth, database)
    cookie = await organiser_cookie(database)
    form = await (await client.get("/organizer/exports?lang=fr", headers=cookie)).text()
    inside = await client.get(
        "/organizer/exports/completions.csv",
        params={"from": "2026-11-02", "to": "2026-11-02"},
        headers=cookie,
    )
    before = await client.get(
        "/organizer/exports/completions.csv",
        params={"from": "2026-10-01", "to": "2026-11-01"},
        headers=cookie,
    )
    tab = await client.get(
        "/organizer/exports/completions.txt", params={"from": "2026-11-02"}, headers=cookie
    )
    bad = await client.get(
        "/organizer/exports/completions.csv",
        params={"from": "02/11/2026", "lang": "fr"},
        headers=cookie,
    )
    api = await client.get("/api/exports/completions.csv", headers=auth)

    inside_text = await inside.text()
    assert 'action="/organizer/exports/completions.csv"' in form
    assert inside.status == 200 and inside_text == await api.text()
    assert len(inside_text.strip().splitlines()) > 1
    assert len((await before.text()).strip().splitlines()) == 1  # the header alone
    assert tab.content_type == "text/tab-separated-values"
    assert bad.status == 400 and "année-mois-jour" in await bad.text()
