"""A session keeps the credit rules it was credited under (its designations, maxima, roundings
and minimum attendance, fixed when its credits become final): an edit of the series' rules
reaches only the sessions not final yet, and says how many final ones keep theirs. Through the
real app, the finalisation job and late events, on both engines."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from html import unescape
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from tests.factories import create_physician, create_series, job_context, occurrences
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tracker.db import Database
from tracker.domain.models import Award, Certificate
from tracker.http.keys import MAIL
from tracker.jobs import plan_finalisations


def _stay(occurrence_id: int, physician_id: int, day: str, name: str) -> list[dict[str, Any]]:
    """45 minutes of a one-hour session (11:30 to 12:15 UTC on ``day``)."""
    return [
        {
            "event_id": f"{name}-{kind}-{day}",
            "occurrence_id": occurrence_id,
            "physician_id": physician_id,
            "kind": kind,
            "at": f"{day}T{at}:00Z",
        }
        for kind, at in (("join", "11:30"), ("leave", "12:15"))
    ]


async def _post(client: TestClient, auth: dict[str, str], events: list[dict[str, Any]]) -> None:
    response = await client.post("/api/attendance-events", json=events, headers=auth)
    assert response.status == 202, await response.text()


async def _awards(database: Database, occurrence_id: int) -> dict[int, Award]:
    async with database.session() as session:
        rows = await session.exec(select(Award).where(Award.occurrence_id == occurrence_id))
        return {award.physician_id: award for award in rows.all()}


async def test_an_edit_of_the_credit_rules_leaves_a_final_session_as_it_was_credited(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    series = await create_series(
        client,
        auth,
        start="2026-12-01T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=TU",
        reminders=[],
        credits=[{"type": "AMA_PRA_1", "max": 1}],
        min_attendance_percent=50,
    )
    first, second = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(client, auth)
    paul = await create_physician(
        client, auth, first_name="Paul", email="paul@example.org", npi=None
    )
    ctx = dataclasses.replace(job_context(database, scheduler), mail=client.app[MAIL])
    with time_machine.travel(datetime(2026, 12, 1, 12, 40, tzinfo=UTC), tick=False):
        await _post(
            client,
            auth,
            _stay(first["id"], jeanne["id"], "2026-12-01", "jeanne")
            + _stay(first["id"], paul["id"], "2026-12-01", "paul"),
        )
    with time_machine.travel(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)

    with time_machine.travel(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        edited = await client.patch(
            f"/api/series/{series['id']}",
            json={"credits": [{"type": "AMA_PRA_1", "max": 0.5}], "min_attendance_percent": 80},
            headers=auth,
        )
        body = await edited.json()
    assert edited.status == 200, body
    assert body["final_sessions_keeping_rules"] == 1
    assert body["credits"] == [{"type": "AMA_PRA_1", "max": 0.5}]
    cookie = await organiser_cookie(database)
    with time_machine.travel(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        page = await client.get(f"/organizer/series/{series['id']}?lang=en", headers=cookie)
        html = unescape(await page.text())
    assert page.status == 200
    assert (
        "Sessions with final credits: 1. Each keeps the credit rules it was credited under "
        "(1 under rules other than these)"
    ) in html

    # a late, irrelevant event recomputes Paul's award (a second device inside his stay)
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
        await _post(
            client,
            auth,
            [
                {
                    "event_id": f"paul-phone-{kind}",
                    "occurrence_id": first["id"],
                    "physician_id": paul["id"],
                    "kind": kind,
                    "at": at,
                    "connection_id": "phone",
                }
                for kind, at in (
                    ("join", "2026-12-01T11:40:00Z"),
                    ("leave", "2026-12-01T11:50:00Z"),
                )
            ],
        )

    credited = await _awards(database, first["id"])
    assert {pid: (a.final, a.credits, a.version) for pid, a in credited.items()} == {
        jeanne["id"]: (True, {"AMA_PRA_1": 0.75}, 1),
        paul["id"]: (True, {"AMA_PRA_1": 0.75}, 1),
    }
    receipt = credited[paul["id"]].receipt
    assert receipt is not None
    assert receipt["threshold"]["percent"] == 50
    assert receipt["credits"] == [
        {"type": "AMA_PRA_1", "rounding": "quarter", "max": 1.0, "awarded": 0.75}
    ]
    async with database.session() as session:
        certificates = (
            await session.exec(select(Certificate).order_by(col(Certificate.physician_id)))
        ).all()
    assert [(c.physician_id, c.version, c.credits) for c in certificates] == [
        (jeanne["id"], 1, {"AMA_PRA_1": 0.75}),
        (paul["id"], 1, {"AMA_PRA_1": 0.75}),
    ]

    # the next session, not final at the edit, is credited under the new rules
    with time_machine.travel(datetime(2026, 12, 8, 12, 40, tzinfo=UTC), tick=False):
        await _post(client, auth, _stay(second["id"], jeanne["id"], "2026-12-08", "jeanne"))
    with time_machine.travel(datetime(2026, 12, 8, 14, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(ctx)
        listed = await client.get(f"/api/occurrences/{second['id']}/attendance", headers=auth)
        page = await listed.json()
    ((row,),) = [page["items"]]
    assert (row["final"], row["credits"]) == (True, {"AMA_PRA_1": 0.0})
    mine = await client.get(
        "/api/me/credits", headers={"Authorization": f"Bearer {jeanne['token']}"}
    )
    assert (await mine.json())["final_totals"] == {"AMA_PRA_1": 0.75}
