"""An NPI and an RPPS number identify one person: a second physician cannot take one another
physician holds (409, naming the field), whether the first one was committed long ago or a
moment earlier by a concurrent request; any number of physicians may have none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import create_physician, physician_body
from tracker.db import Database
from tracker.domain.models import Physician

ONLY_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
NPI = "1234567893"
RPPS = "10001234567"


async def test_npi_another_physician_holds_is_409_naming_the_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    jeanne = await create_physician(client, auth, npi=NPI)

    response = await client.post(
        "/api/physicians", json=physician_body(email="paul@example.org", npi=NPI), headers=auth
    )

    assert response.status == 409
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["errors"] == [
        {
            "field": "npi",
            "message": f"physician {jeanne['id']} has this NPI already; it identifies one person",
        }
    ]
    assert "jeanne" not in problem["detail"].lower()  # the holder by id, not by name or address


async def test_rpps_another_physician_holds_is_409_naming_the_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_physician(client, auth, npi=None, rpps=RPPS)

    response = await client.post(
        "/api/physicians",
        json=physician_body(email="paul@example.org", npi=None, rpps=RPPS),
        headers=auth,
    )

    assert response.status == 409
    assert [error["field"] for error in (await response.json())["errors"]] == ["rpps"]


async def test_physicians_without_identifiers_are_as_many_as_needed(
    client: TestClient, auth: dict[str, str]
) -> None:
    first = await create_physician(client, auth, email="a@example.org", npi=None, rpps=None)
    second = await create_physician(client, auth, email="b@example.org", npi=None, rpps=None)

    assert (first["npi"], second["npi"], first["rpps"], second["rpps"]) == (None,) * 4


async def test_patch_to_an_npi_another_physician_holds_is_409_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_physician(client, auth, npi=NPI)
    paul = await create_physician(client, auth, email="paul@example.org", npi=None)

    response = await client.patch(
        f"/api/physicians/{paul['id']}", json={"npi": NPI, "last_name": "Martin"}, headers=auth
    )
    stored = await (await client.get(f"/api/physicians/{paul['id']}", headers=auth)).json()

    assert response.status == 409
    assert (await response.json())["errors"][0]["field"] == "npi"
    assert (stored["npi"], stored["last_name"]) == (None, "Durand")


async def test_patch_giving_a_physician_their_own_npi_again_is_accepted(
    client: TestClient, auth: dict[str, str]
) -> None:
    jeanne = await create_physician(client, auth, npi=NPI, rpps=RPPS)

    response = await client.patch(
        f"/api/physicians/{jeanne['id']}", json={"npi": NPI, "rpps": RPPS}, headers=auth
    )

    assert response.status == 200, await response.text()


async def test_an_npi_given_up_by_one_physician_can_be_given_to_another(
    client: TestClient, auth: dict[str, str]
) -> None:
    jeanne = await create_physician(client, auth, npi=NPI)
    paul = await create_physician(client, auth, email="paul@example.org", npi=None)

    cleared = await client.patch(
        f"/api/physicians/{jeanne['id']}", json={"npi": None}, headers=auth
    )
    moved = await client.patch(f"/api/physicians/{paul['id']}", json={"npi": NPI}, headers=auth)

    assert (cleared.status, moved.status) == (200, 200)
    assert (await moved.json())["npi"] == NPI


async def test_a_refused_npi_stays_found_under_its_one_physician(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_physician(client, auth, npi=NPI)
    await client.post(
        "/api/physicians", json=physician_body(email="paul@example.org", npi=NPI), headers=auth
    )

    listed = await (await client.get("/api/physicians", params={"q": NPI}, headers=auth)).json()

    assert [row["email"] for row in listed["items"]] == ["jeanne.durand@example.org"]


# Concurrent requests: the unique index decides, and its refusal is a 409, never a 500.


def _physician_row(email: str, npi: str) -> dict[str, Any]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return {
        "first_name": "Other",
        "last_name": "Writer",
        "email": email,
        "timezone": "UTC",
        "language": "en",
        "npi": npi,
        "board_ids": {},
        "consent_board_reporting": False,
        "token_hash": email.ljust(64, "x")[:64],
        "feed_secret": None,
        "token_generation": 1,
        "created_at": now,
        "updated_at": now,
    }


async def _until_a_request_waits_on_a_lock(connection: AsyncConnection) -> None:
    """Return once another session of this database waits on a row lock (the request's write
    behind our uncommitted one); fail after 10 seconds."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    for _ in range(200):
        async with connection.engine.connect() as watcher:
            if (await watcher.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never waited for the other transaction")


@ONLY_POSTGRESQL
async def test_creation_racing_an_uncommitted_npi_ends_in_409_not_500(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    async with database.engine.connect() as other:
        await other.begin()
        await other.execute(insert(Physician.__table__), _physician_row("first@example.org", NPI))  # type: ignore[attr-defined]
        # the request's check cannot see the uncommitted row: its INSERT waits on the index
        request = asyncio.create_task(
            client.post(
                "/api/physicians",
                json=physician_body(email="second@example.org", npi=NPI, send_welcome=False),
                headers=auth,
            )
        )
        await _until_a_request_waits_on_a_lock(other)
        await other.commit()
    response = await request

    assert response.status == 409, await response.text()
    assert (await response.json())["errors"][0]["field"] == "npi"


@ONLY_POSTGRESQL
async def test_edit_racing_an_uncommitted_npi_ends_in_409_not_500(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    paul = await create_physician(client, auth, email="paul@example.org", npi=None)
    async with database.engine.connect() as other:
        await other.begin()
        await other.execute(insert(Physician.__table__), _physician_row("first@example.org", NPI))  # type: ignore[attr-defined]
        request = asyncio.create_task(
            client.patch(f"/api/physicians/{paul['id']}", json={"npi": NPI}, headers=auth)
        )
        await _until_a_request_waits_on_a_lock(other)
        await other.commit()
    response = await request

    assert response.status == 409, await response.text()
    assert (await response.json())["errors"][0]["field"] == "npi"


async def test_two_concurrent_creations_with_one_npi_end_in_one_201_and_one_409(
    client: TestClient, auth: dict[str, str]
) -> None:
    bodies = [
        physician_body(email=f"twin{n}@example.org", npi=NPI, send_welcome=False) for n in (1, 2)
    ]

    responses = await asyncio.gather(
        *(client.post("/api/physicians", json=body, headers=auth) for body in bodies)
    )

    assert sorted(response.status for response in responses) == [201, 409]
