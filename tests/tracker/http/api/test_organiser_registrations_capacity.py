"""An organiser's registrations honour the series' capacity as self-registration does (SPEC 6):
past it, the physician waits in line (202 with the place), the first in line gets the next
seat; ``"over_capacity": true`` gives a seat past it on purpose. Requests racing for the last
seat give one seat. Both engines (the race matters on PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from schedules.clock import utcnow
from tests.factories import create_physician, every_item
from tests.tracker.self_registration_world import open_series, queued
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.domain.self_registrations import place
from tracker.services import registrations as service
from tracker.services.context import load_services
from tracker.settings import Settings


async def people(client: TestClient, auth: dict[str, str], *names: str) -> list[dict[str, Any]]:
    return [
        await create_physician(client, auth, email=f"{name}@example.org", npi=None)
        for name in names
    ]


async def register(
    client: TestClient, auth: dict[str, str], series_id: int, pid: int, **extra: Any
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/api/series/{series_id}/registrations",
        json={"physician_id": pid, **extra},
        headers=auth,
    )
    return response.status, await response.json()


async def test_a_full_series_puts_the_organisers_registration_in_line(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    anna, bruno, chloe = await people(client, auth, "anna", "bruno", "chloe")
    sid = series["id"]

    seat = await register(client, auth, sid, anna["id"])
    second = await register(client, auth, sid, bruno["id"])
    third = await register(client, auth, sid, chloe["id"])
    again = await register(client, auth, sid, bruno["id"])
    registered = await every_item(client, auth, f"/api/series/{sid}/registrations")
    line = await every_item(
        client, auth, f"/api/series/{sid}/self-registrations", status="waitlisted"
    )

    assert seat[0] == 201
    assert second == (
        202,
        {"series_id": sid, "physician_id": bruno["id"], "status": "waitlisted", "position": 1},
    )
    assert (third[0], third[1]["position"]) == (202, 2)
    assert (again[0], again[1]["position"]) == (202, 1)  # asked twice: one place
    assert [r["physician_id"] for r in registered] == [anna["id"]]
    assert [(w["physician_id"], w["position"]) for w in line] == [
        (bruno["id"], 1),
        (chloe["id"], 2),
    ]
    assert await queued(database, "self_registration") == []  # no link to confirm: no email


async def test_a_freed_seat_goes_to_the_first_in_line_with_an_email(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    anna, bruno = await people(client, auth, "anna", "bruno")
    sid = series["id"]
    await register(client, auth, sid, anna["id"])
    await register(client, auth, sid, bruno["id"])

    gone = await client.delete(f"/api/series/{sid}/registrations/{anna['id']}", headers=auth)
    registered = await every_item(client, auth, f"/api/series/{sid}/registrations")
    [(_, message)] = await queued(database, "waitlist_promoted")

    assert gone.status == 204
    assert [r["physician_id"] for r in registered] == [bruno["id"]]
    assert message["To"].addresses[0].addr_spec == "bruno@example.org"


async def test_over_capacity_gives_a_seat_past_the_capacity_and_leaves_the_line(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth, capacity=1)
    anna, bruno, chloe = await people(client, auth, "anna", "bruno", "chloe")
    sid = series["id"]
    await register(client, auth, sid, anna["id"])
    await register(client, auth, sid, bruno["id"])  # in line

    forced = await register(client, auth, sid, bruno["id"], over_capacity=True)
    extra = await register(client, auth, sid, chloe["id"], over_capacity=True)
    registered = await every_item(client, auth, f"/api/series/{sid}/registrations")
    line = await every_item(
        client, auth, f"/api/series/{sid}/self-registrations", status="waitlisted"
    )

    assert (forced[0], forced[1]["physician_id"]) == (201, bruno["id"])
    assert extra[0] == 201
    assert [r["physician_id"] for r in registered] == [anna["id"], bruno["id"], chloe["id"]]
    assert line == []


async def test_a_series_without_capacity_takes_everyone(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth)
    group = await people(client, auth, "anna", "bruno", "chloe")

    answers = [await register(client, auth, series["id"], p["id"]) for p in group]

    assert [status for status, _ in answers] == [201, 201, 201]


async def test_a_list_fills_the_free_seats_in_its_order_and_the_rest_waits_in_that_order(
    client: TestClient, auth: dict[str, str], database: Database, settings: Settings
) -> None:
    series = await open_series(client, auth, capacity=2)
    group = await people(client, auth, "anna", "bruno", "chloe", "david")
    services = await load_services(database, settings)
    listed = ["david@example.org", "bruno@example.org", "nobody@example.org"]

    first = await service.register_emails(services, series["id"], listed)
    second = await service.register_emails(
        services, series["id"], ["anna@example.org", "chloe@example.org"]
    )
    forced = await service.register_emails(
        services, series["id"], ["chloe@example.org"], over_capacity=True
    )
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")
    line = await every_item(
        client, auth, f"/api/series/{series['id']}/self-registrations", status="waitlisted"
    )
    by_id = {p["id"]: p["email"].split("@")[0] for p in group}

    assert (first.added, first.waitlisted, first.unknown) == (2, 0, ["nobody@example.org"])
    assert (second.added, second.waitlisted) == (0, 2)
    assert (forced.added, forced.waitlisted) == (1, 0)
    assert [by_id[r["physician_id"]] for r in registered] == ["david", "bruno", "chloe"]
    assert [(by_id[w["physician_id"]], w["position"]) for w in line] == [("anna", 1)]


async def test_requests_racing_for_the_last_seats_get_as_many_seats_as_there_are(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth, capacity=3)
    group = await people(client, auth, *(f"p{n}" for n in range(10)))

    answers = await asyncio.gather(*(register(client, auth, series["id"], p["id"]) for p in group))
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")

    assert sorted(status for status, _ in answers) == [201] * 3 + [202] * 7
    assert sorted(body["position"] for status, body in answers if status == 202) == list(
        range(1, 8)
    )
    assert len(registered) == 3


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_registration_that_waited_for_the_series_lock_queues_after_the_one_holding_it(
    client: TestClient, auth: dict[str, str], database: Database, settings: Settings
) -> None:
    """Its time was read before it waited: it still goes after the one that held the lock."""
    series = await open_series(client, auth, capacity=1)
    anna, bruno, chloe = await people(client, auth, "anna", "bruno", "chloe")
    sid = series["id"]
    await register(client, auth, sid, anna["id"])
    mail = (await load_services(database, settings)).mail
    other = Database(settings.database_url)
    late = utcnow()
    try:
        async with database.session() as holding, other.session() as waiting:
            first = await holding.get_one(Physician, bruno["id"])
            second = await waiting.get_one(Physician, chloe["id"])
            held = await place(holding, mail, sid, first, now=late)
            queued = asyncio.create_task(
                place(waiting, mail, sid, second, now=late - timedelta(seconds=5))
            )
            await asyncio.sleep(0.3)
            blocked = not queued.done()
            await holding.commit()
            placed = await queued
            await waiting.commit()
    finally:
        await other.close()
    line = await every_item(
        client, auth, f"/api/series/{sid}/self-registrations", status="waitlisted"
    )

    assert blocked
    assert (held.outcome, held.position) == ("waitlisted", 1)
    assert (placed.outcome, placed.position) == ("waitlisted", 2)
    assert [(w["physician_id"], w["position"]) for w in line] == [
        (bruno["id"], 1),
        (chloe["id"], 2),
    ]
