"""The generic attendance API, credit summaries, requirements and the completions export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import col, select

from notifications.models import OutboxMessage
from schedules.models import Occurrence
from tests.factories import bearer, create_physician, create_series, job_context, occurrences
from tracker.db import Database
from tracker.domain.presence import connected_per_minute
from tracker.jobs import plan_finalisations
from tracker.services.finalisation import finalize

DURING = datetime(2026, 11, 2, 12, 45, tzinfo=UTC)


def event(event_id: str, kind: str, at: str, **who: Any) -> dict[str, Any]:
    return {"event_id": event_id, "kind": kind, "at": at, **who}


async def _world(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    series = await create_series(
        client,
        auth,
        start="2026-11-02T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=MO",
        credits=[{"type": "AMA_PRA_1", "max": 1.0}, {"type": "DPC_HOURS", "max": 1.0}],
    )
    first, second = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(
        client, auth, birth_month=4, birth_day=9, board_ids={"ABIM": "778899"}
    )
    paul = await create_physician(
        client, auth, first_name="Paul", last_name="=Martin", email="paul@example.org", npi=None
    )
    return {"series": series, "first": first, "second": second, "jeanne": jeanne, "paul": paul}


async def _post(
    client: TestClient, auth: dict[str, str], events: list[dict[str, Any]]
) -> tuple[int, Any]:
    response = await client.post("/api/attendance-events", json=events, headers=auth)
    return response.status, await response.json()


async def test_batch_counts_accepted_duplicates_and_unmatched(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    occurrence = w["first"]["id"]
    batch = [
        event(
            "e1",
            "join",
            "2026-11-02T11:30:00Z",
            occurrence_id=occurrence,
            physician_id=w["jeanne"]["id"],
        ),
        event(
            "e2",
            "leave",
            "2026-11-02T12:00:00Z",
            occurrence_id=occurrence,
            email="JEANNE.DURAND@example.org",
        ),
        event(
            "e3",
            "join",
            "2026-11-02T11:30:00Z",
            occurrence_id=occurrence,
            email="nobody@example.org",
        ),
        event(
            "e4", "join", "2026-11-02T11:30:00Z", occurrence_id=987654, physician_id=w["paul"]["id"]
        ),
        event(
            "e1",
            "join",
            "2026-11-02T11:30:00Z",
            occurrence_id=occurrence,
            physician_id=w["jeanne"]["id"],
        ),
    ]

    with time_machine.travel(DURING, tick=True):
        first = await _post(client, auth, batch)
        again = await _post(client, auth, batch)

    assert first == (202, {"accepted": 4, "duplicates": 1, "unmatched": 2})
    assert again == (202, {"accepted": 0, "duplicates": 5, "unmatched": 0})


async def test_invalid_batch_is_422_and_stores_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    batch = [
        event(
            "ok",
            "join",
            "2026-11-02T11:30:00Z",
            occurrence_id=w["first"]["id"],
            physician_id=w["jeanne"]["id"],
        ),
        event("bad", "wave", "2026-11-02T11:30:00", occurrence_id=w["first"]["id"]),
    ]

    status, problem = await _post(client, auth, batch)
    status_again, result = await _post(client, auth, batch[:1])

    assert status == 422
    assert {e["field"] for e in problem["errors"]} >= {"1.kind", "1.at"}
    assert (status_again, result["accepted"]) == (202, 1)


@pytest.mark.parametrize("body", [{}, [], "events"])
async def test_batch_must_be_a_non_empty_list(
    client: TestClient, auth: dict[str, str], body: Any
) -> None:
    response = await client.post("/api/attendance-events", json=body, headers=auth)

    assert response.status == 422


async def test_another_physicians_session_is_404(client: TestClient, auth: dict[str, str]) -> None:
    w = await _world(client, auth)
    occurrence = w["first"]["id"]
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "p1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["paul"]["id"],
                )
            ],
        )

    mine = await client.get(f"/api/me/awards/{occurrence}", headers=bearer(w["paul"]["token"]))
    theirs = await client.get(f"/api/me/awards/{occurrence}", headers=bearer(w["jeanne"]["token"]))

    assert (mine.status, theirs.status) == (200, 404)


async def test_requirements_show_earned_against_required(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    w = await _world(client, auth)
    jeanne = w["jeanne"]["id"]
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "j1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=w["first"]["id"],
                    physician_id=jeanne,
                ),
                event(
                    "j2",
                    "leave",
                    "2026-11-02T12:15:00Z",
                    occurrence_id=w["first"]["id"],
                    physician_id=jeanne,
                ),
            ],
        )
    response = await client.post(
        f"/api/physicians/{jeanne}/requirements",
        json={"type": "AMA_PRA_1", "required": 50, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    await client.post(
        f"/api/physicians/{jeanne}/requirements",
        json={"type": "DPC_HOURS", "required": 28, "from": "2027-01-01", "to": "2027-12-31"},
        headers=auth,
    )

    summary = await (await client.get(f"/api/physicians/{jeanne}/credits", headers=auth)).json()

    assert response.status == 200
    assert [
        (r["type"], r["required"], r["earned"], r["from"], r["to"]) for r in summary["requirements"]
    ] == [
        ("AMA_PRA_1", 50.0, 0.75, "2026-01-01", "2026-12-31"),
        ("DPC_HOURS", 28.0, 0.0, "2027-01-01", "2027-12-31"),
    ]
    assert summary["totals"] == {"AMA_PRA_1": 0.75, "DPC_HOURS": 0.75}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "NOPE", "required": 5, "from": "2026-01-01", "to": "2026-12-31"}, "type"),
        ({"type": "AMA_PRA_1", "required": 5, "from": "2026-12-31", "to": "2026-01-01"}, "body"),
        (
            {"type": "AMA_PRA_1", "required": -1, "from": "2026-01-01", "to": "2026-12-31"},
            "required",
        ),
    ],
)
async def test_bad_requirement_is_422(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    w = await _world(client, auth)

    response = await client.post(
        f"/api/physicians/{w['jeanne']['id']}/requirements", json=body, headers=auth
    )

    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == field


async def test_moving_an_occurrence_recomputes_its_credits(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    occurrence = w["first"]["id"]
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "j1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["jeanne"]["id"],
                ),
                event(
                    "j2",
                    "leave",
                    "2026-11-02T12:30:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["jeanne"]["id"],
                ),
            ],
        )
        await client.patch(
            f"/api/occurrences/{occurrence}", json={"start": "2026-11-02T13:00:00"}, headers=auth
        )
        award = await (
            await client.get(f"/api/me/awards/{occurrence}", headers=bearer(w["jeanne"]["token"]))
        ).json()

    assert (award["minutes"], award["credits"]) == (30.0, {"AMA_PRA_1": 0.5, "DPC_HOURS": 0.5})


async def test_completions_export_lists_final_credits_of_consenting_physicians(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    w = await _world(client, auth)
    occurrence = w["first"]["id"]
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "j1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["jeanne"]["id"],
                ),
                event(
                    "p1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["paul"]["id"],
                ),
                event(
                    "p2",
                    "leave",
                    "2026-11-02T12:00:00Z",
                    occurrence_id=occurrence,
                    physician_id=w["paul"]["id"],
                ),
            ],
        )
    await client.patch(
        f"/api/physicians/{w['paul']['id']}", json={"consent_board_reporting": True}, headers=auth
    )
    await finalize(
        database, occurrence, now=DURING + timedelta(hours=2), grace=timedelta(minutes=90)
    )

    response = await client.get(
        "/api/exports/completions.csv",
        params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z"},
        headers=auth,
    )
    # UTF-8 with a byte-order mark, board and board id apart (issue 15: PARS layout)
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert [
        (
            r["last_name"],
            r["npi"],
            r["board"],
            r["board_id"],
            r["birth_month"],
            r["AMA_PRA_1"],
            r["DPC_HOURS"],
        )
        for r in rows
    ] == [
        ("'=Martin", "", "", "", "", "0.5", "0.5"),  # a formula-looking name is neutralised
        ("Durand", "1234567893", "ABIM", "778899", "4", "1", "1"),
    ]
    assert {r["completion_date"] for r in rows} == {"2026-11-02"}
    # a type the session does not designate is empty, not 0 (designated, not earned)
    assert {r["SMC_HOURS"] for r in rows} == {""}
    # a period given as plain days holds both days (UTC), the last one included
    for params, count in (
        ({"from": "2026-11-02", "to": "2026-11-02"}, 2),
        ({"from": "2026-11-01", "to": "2026-11-01"}, 0),
        ({"from": "2026-11-03"}, 0),
    ):
        by_days = await client.get("/api/exports/completions.csv", params=params, headers=auth)
        body = (await by_days.read()).decode("utf-8-sig")
        assert (by_days.status, len(list(csv.DictReader(io.StringIO(body))))) == (200, count)


async def test_completions_export_leaves_out_provisional_and_non_consenting(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "j1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=w["first"]["id"],
                    physician_id=w["jeanne"]["id"],
                ),
            ],
        )

    text = await (await client.get("/api/exports/completions.csv", headers=auth)).text()

    assert text.splitlines()[1:] == []


async def test_series_edit_that_would_remove_an_attended_occurrence_is_refused(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    with time_machine.travel(DURING, tick=True):
        await _post(
            client,
            auth,
            [
                event(
                    "j1",
                    "join",
                    "2026-11-02T11:30:00Z",
                    occurrence_id=w["first"]["id"],
                    physician_id=w["jeanne"]["id"],
                ),
            ],
        )

    response = await client.patch(
        f"/api/series/{w['series']['id']}",
        json={"start": "2026-11-03T12:30:00", "rrule": "FREQ=WEEKLY;COUNT=2;BYDAY=TU"},
        headers=auth,
    )
    after = await occurrences(client, auth, w["series"]["id"])

    assert response.status == 409
    assert "hold attendance" in (await response.json())["detail"]
    assert [row["id"] for row in after] == [w["first"]["id"], w["second"]["id"]]


async def test_provisional_minutes_count_open_connections_up_to_now(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """A connection still open counts up to now while the session runs (clamped to its window);
    once final, an open connection counts up to the end, as before."""
    w = await _world(client, auth)
    occurrence = w["first"]["id"]  # 11:30 to 12:30 UTC
    join = event(
        "live-1", "join", "2026-11-02T11:31:00Z", occurrence_id=occurrence, email="paul@example.org"
    )
    seen = []

    async def look() -> tuple[Any, ...]:
        summary = await (
            await client.get(f"/api/physicians/{w['paul']['id']}/credits", headers=auth)
        ).json()
        rows = (
            await (
                await client.get(f"/api/occurrences/{occurrence}/attendance", headers=auth)
            ).json()
        )["items"]
        (award,) = summary["awards"]
        (row,) = rows
        return (award["minutes"], award["credits"]["AMA_PRA_1"], award["final"], row["minutes"])

    with time_machine.travel(datetime(2026, 11, 2, 11, 36, tzinfo=UTC), tick=False):
        assert (await _post(client, auth, [join]))[0] == 202
        seen.append(await look())
    for now in (datetime(2026, 11, 2, 12, 1, tzinfo=UTC), datetime(2026, 11, 2, 13, 0, tzinfo=UTC)):
        with time_machine.travel(now, tick=False):
            seen.append(await look())
    with time_machine.travel(datetime(2026, 11, 2, 14, 1, tzinfo=UTC), tick=False):
        await finalize(database, occurrence, now=datetime.now(UTC), grace=timedelta(minutes=90))
        seen.append(await look())

    assert seen == [
        (5.0, 0.0, False, 5.0),  # five minutes in: not the 59 minutes up to the scheduled end
        (30.0, 0.5, False, 30.0),  # no new event, yet later: up to now
        (59.0, 1.0, False, 59.0),  # after the end: up to the end
        (59.0, 1.0, True, 59.0),  # final: unchanged
    ]


async def test_event_email_matches_however_the_platform_spells_the_accented_address(
    client: TestClient, auth: dict[str, str]
) -> None:
    """Zoom may send an address decomposed (e + combining acute) and in capitals; the
    physician was stored normalised (NFC, lower case): the two are one person."""
    w = await _world(client, auth)
    chloe = await create_physician(
        client, auth, first_name="Chloé", email="chloé.simon@example.org", npi=None
    )
    spelled = "CHLOE\u0301.SIMON@EXAMPLE.ORG"
    batch = [
        event("c1", "join", "2026-11-02T11:30:00Z", occurrence_id=w["first"]["id"], email=spelled),
    ]

    with time_machine.travel(DURING, tick=True):
        status, body = await _post(client, auth, batch)
        summary = await client.get(f"/api/physicians/{chloe['id']}/credits", headers=auth)

    assert (status, body) == (202, {"accepted": 1, "duplicates": 0, "unmatched": 0})
    awards = (await summary.json())["awards"]
    assert [a["occurrence_id"] for a in awards] == [w["first"]["id"]]


@pytest.mark.parametrize(
    "spelled", ["zoe@xn--exmple-cua.org", "ZOE@XN--EXMPLE-CUA.ORG", "Zoe@Exämple.org"]
)
async def test_event_email_matches_an_international_domain_in_either_form(
    client: TestClient, auth: dict[str, str], spelled: str
) -> None:
    """A platform may give the domain in its IDNA form (the form mail travels in); the
    physician was stored with the Unicode form: the two are one person."""
    w = await _world(client, auth)
    zoe = await create_physician(client, auth, first_name="Zoé", email="zoe@exämple.org", npi=None)
    batch = [
        event("z1", "join", "2026-11-02T11:30:00Z", occurrence_id=w["first"]["id"], email=spelled)
    ]

    with time_machine.travel(DURING, tick=True):
        status, body = await _post(client, auth, batch)
        summary = await client.get(f"/api/physicians/{zoe['id']}/credits", headers=auth)

    assert (status, body) == (202, {"accepted": 1, "duplicates": 0, "unmatched": 0})
    assert [a["occurrence_id"] for a in (await summary.json())["awards"]] == [w["first"]["id"]]


async def test_an_event_in_the_future_is_422_naming_it_and_the_batch_is_not_stored(
    client: TestClient, auth: dict[str, str]
) -> None:
    w = await _world(client, auth)
    who = {"occurrence_id": w["second"]["id"], "physician_id": w["jeanne"]["id"]}
    batch = [
        event("now", "join", "2026-11-02T12:50:00Z", **who),  # 5 minutes ahead: a fast clock
        event("ahead", "join", "2026-11-09T11:30:00Z", **who),  # next week's session
    ]

    with time_machine.travel(DURING, tick=False):
        status, problem = await _post(client, auth, batch)
        credits = await client.get(f"/api/physicians/{w['jeanne']['id']}/credits", headers=auth)

    assert status == 422
    assert problem["errors"] == [
        {
            "field": "1.at",
            "message": "is in the future (more than 5 minutes after this service's clock)",
        }
    ]
    assert (await credits.json())["awards"] == []


async def test_a_join_and_its_leave_in_one_second_count_nothing_and_send_no_certificate(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Rules 2026.4: a join dropped within its second (the leave sent first, as a platform may)
    is a stay of no length; a leave and a join of one connection in one second is a reconnect,
    which goes on to the end (the join sent first). Before, the first gave the whole session
    and a certificate."""
    w = await _world(client, auth)
    occurrence = w["first"]["id"]  # 11:30 to 12:30 UTC
    jeanne, paul = w["jeanne"]["id"], w["paul"]["id"]
    jeannes = {"occurrence_id": occurrence, "physician_id": jeanne, "connection_id": "phone"}
    pauls = {"occurrence_id": occurrence, "physician_id": paul, "connection_id": "laptop"}
    events = [
        event("j-left", "leave", "2026-11-02T11:30:00Z", **jeannes),
        event("j-joined", "join", "2026-11-02T11:30:00Z", **jeannes),
        event("p-joined", "join", "2026-11-02T11:30:00Z", **pauls),
        event("p-rejoined", "join", "2026-11-02T11:50:00Z", **pauls),
        event("p-left", "leave", "2026-11-02T11:50:00Z", **pauls),
    ]

    async def look() -> list[tuple[Any, ...]]:
        rows = (
            await (
                await client.get(f"/api/occurrences/{occurrence}/attendance", headers=auth)
            ).json()
        )["items"]
        summaries = [
            await (await client.get(f"/api/physicians/{pid}/credits", headers=auth)).json()
            for pid in (jeanne, paul)
        ]
        return [
            (
                row["physician_id"],
                row["minutes"],
                row["credits"],
                row["anomalies"],
                row["final"],
                [(a["minutes"], a["credits"]) for a in summary["awards"]],
            )
            for row, summary in zip(
                sorted(rows, key=lambda r: r["physician_id"]), summaries, strict=True
            )
        ]

    with time_machine.travel(DURING, tick=True):
        assert (await _post(client, auth, events))[0] == 202
        provisional = await look()
    with time_machine.travel(datetime(2026, 11, 2, 14, 5, tzinfo=UTC), tick=True):
        await plan_finalisations(job_context(database, AsyncIOScheduler(timezone=UTC)))
        final = await look()
    async with database.session() as session:
        certified = (
            await session.exec(
                select(OutboxMessage.physician_id).where(col(OutboxMessage.kind) == "certificate")
            )
        ).all()
        chart = await connected_per_minute(
            session, await session.get_one(Occurrence, occurrence), now=DURING
        )

    nothing = {"AMA_PRA_1": 0.0, "DPC_HOURS": 0.0}
    whole = {"AMA_PRA_1": 1.0, "DPC_HOURS": 1.0}
    assert provisional == [
        (jeanne, 0.0, nothing, [], False, [(0.0, nothing)]),
        (paul, 60.0, whole, [], False, [(60.0, whole)]),
    ]
    assert final == [
        (jeanne, 0.0, nothing, [], True, [(0.0, nothing)]),
        (paul, 60.0, whole, [], True, [(60.0, whole)]),
    ]
    assert certified == [paul]
    assert chart == [1] * 60  # the organiser's chart: Paul in every minute, Jeanne in none
