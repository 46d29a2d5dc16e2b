"""Organisers list occurrences in a window and cancel, restore or move one of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_series, occurrences


async def _patch(
    client: TestClient, auth: dict[str, str], occurrence_id: int, body: dict[str, Any]
) -> Any:
    response = await client.patch(f"/api/occurrences/{occurrence_id}", json=body, headers=auth)
    return response.status, await response.json()


async def test_occurrences_keep_wall_clock_time_across_dst(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    rows = await occurrences(client, auth, created["id"])

    assert [row["start"] for row in rows] == [
        "2027-03-01T11:30:00Z",
        "2027-03-08T11:30:00Z",
        "2027-03-15T11:30:00Z",
        "2027-03-22T11:30:00Z",
        "2027-03-29T10:30:00Z",
        "2027-04-05T10:30:00Z",
        "2027-04-12T10:30:00Z",
        "2027-04-19T10:30:00Z",
    ]
    assert {row["status"] for row in rows} == {"scheduled"}
    assert set(rows[0]) == {
        "id",
        "series_id",
        "start",
        "end",
        "status",
        "sequence",
        "recurrence_id",
    }


async def test_window_selects_overlapping_occurrences(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)

    response = await client.get(
        f"/api/series/{created['id']}/occurrences",
        params={"from": "2027-03-08T12:00:00Z", "to": "2027-03-22T11:30:00Z"},
        headers=auth,
    )

    assert [row["start"] for row in (await response.json())["items"]] == [
        "2027-03-08T11:30:00Z",
        "2027-03-15T11:30:00Z",
    ]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "yesterday"}, "query parameter 'from' must be an ISO 8601 datetime"),
        ({"to": "2027-03-01T00:00:00"}, "query parameter 'to' needs a timezone, e.g. a trailing Z"),
        (
            {"from": "2027-03-02T00:00:00Z", "to": "2027-03-01T00:00:00Z"},
            "'to' must be later than 'from'",
        ),
    ],
)
async def test_bad_window_is_400(
    client: TestClient, auth: dict[str, str], params: dict[str, str], detail: str
) -> None:
    created = await create_series(client, auth)

    response = await client.get(
        f"/api/series/{created['id']}/occurrences", params=params, headers=auth
    )

    assert (response.status, (await response.json())["detail"]) == (400, detail)


async def test_occurrences_of_unknown_series_is_404(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/series/4242/occurrences", headers=auth)

    assert response.status == 404


async def test_cancel_one_occurrence_leaves_the_others(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    before = await occurrences(client, auth, created["id"])

    status, body = await _patch(client, auth, before[2]["id"], {"status": "cancelled"})

    assert (status, body["status"], body["sequence"]) == (200, "cancelled", 1)
    after = await occurrences(client, auth, created["id"])
    assert [row for row in after if row["id"] != before[2]["id"]] == before[:2] + before[3:]


async def test_cancelling_twice_changes_nothing_the_second_time(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[0]["id"]
    await _patch(client, auth, target, {"status": "cancelled"})

    status, body = await _patch(client, auth, target, {"status": "cancelled"})

    assert (status, body["sequence"]) == (200, 1)


async def test_move_with_local_start_and_duration(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[4]

    status, body = await _patch(
        client, auth, target["id"], {"start": "2027-03-30T18:00:00", "duration_minutes": 90}
    )

    assert status == 200
    assert (body["start"], body["end"], body["status"]) == (
        "2027-03-30T16:00:00Z",
        "2027-03-30T17:30:00Z",
        "moved",
    )
    assert body["recurrence_id"] == target["recurrence_id"]


async def test_move_with_utc_start(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[0]

    _, body = await _patch(client, auth, target["id"], {"start": "2027-03-02T08:00:00Z"})

    assert (body["start"], body["end"]) == ("2027-03-02T08:00:00Z", "2027-03-02T09:00:00Z")


async def test_moving_back_to_the_rule_time_is_scheduled_again(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[0]
    await _patch(client, auth, target["id"], {"start": "2027-03-02T08:00:00Z"})

    _, body = await _patch(client, auth, target["id"], {"start": "2027-03-01T12:30:00"})

    assert (body["status"], body["start"], body["sequence"]) == ("scheduled", target["start"], 2)


async def test_restore_a_cancelled_occurrence(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[1]
    await _patch(client, auth, target["id"], {"status": "cancelled"})

    _, body = await _patch(client, auth, target["id"], {"status": "scheduled"})

    assert (body["status"], body["start"], body["sequence"]) == ("scheduled", target["start"], 2)


async def test_moving_a_cancelled_occurrence_is_409(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[1]
    await _patch(client, auth, target["id"], {"status": "cancelled"})

    status, body = await _patch(client, auth, target["id"], {"start": "2027-03-09T12:30:00"})

    assert status == 409
    assert "restore it" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"status": "cancelled", "start": "2027-03-09T12:30:00"}, "body"),
        ({"status": "moved"}, "status"),
        ({"duration_minutes": 100000}, "duration_minutes"),
        ({"start": "soon"}, "start"),
    ],
)
async def test_bad_occurrence_change_is_422(
    client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    created = await create_series(client, auth)
    target = (await occurrences(client, auth, created["id"]))[0]

    status, problem = await _patch(client, auth, target["id"], body)

    assert (status, problem["errors"][0]["field"]) == (422, field)


async def test_unknown_occurrence_is_404(client: TestClient, auth: dict[str, str]) -> None:
    status, body = await _patch(client, auth, 987654, {"status": "cancelled"})

    assert (status, body["detail"]) == (404, "occurrence 987654 does not exist")


async def test_series_edit_keeps_cancelled_and_moved_state(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(client, auth)
    rows = await occurrences(client, auth, created["id"])
    await _patch(client, auth, rows[1]["id"], {"status": "cancelled"})
    await _patch(client, auth, rows[2]["id"], {"start": "2027-03-16T18:00:00"})

    await client.patch(
        f"/api/series/{created['id']}", json={"start": "2027-03-01T13:00:00"}, headers=auth
    )

    after = {row["id"]: row for row in await occurrences(client, auth, created["id"])}
    assert after[rows[1]["id"]]["status"] == "cancelled"
    assert (after[rows[2]["id"]]["status"], after[rows[2]["id"]]["start"]) == (
        "moved",
        "2027-03-16T17:00:00Z",
    )
    assert after[rows[2]["id"]]["recurrence_id"] == "2027-03-15T12:00:00Z"


async def test_a_session_to_come_cannot_be_moved_into_the_past(
    client: TestClient, auth: dict[str, str]
) -> None:
    """A slip of the month (1 December for 1 March) would take the session off every upcoming
    list and tell everyone it moved; one already held can still be set to its real time."""
    with time_machine.travel(datetime(2026, 12, 8, 9, 0, tzinfo=UTC), tick=False):
        created = await create_series(client, auth, start="2026-11-30T12:30:00")
        held, *_, to_come = await occurrences(client, auth, created["id"])

        refused, problem = await _patch(
            client, auth, to_come["id"], {"start": "2026-12-01T12:30:00"}
        )
        corrected, body = await _patch(client, auth, held["id"], {"start": "2026-11-30T13:00:00"})

    assert refused == 422
    assert problem["errors"][0]["field"] == "start"
    assert "a session to come can only be moved to a time to come" in problem["detail"]
    assert (corrected, body["start"]) == (200, "2026-11-30T12:00:00Z")
