"""Physicians: created with a token shown once, identifiers checked, tokens rotated."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import bearer, create_physician, physician_body
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.domain.tokens import hash_token


async def test_create_returns_the_token_once_and_stores_only_its_hash(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_physician(client, auth)

    async with database.session() as session:
        stored = await session.get(Physician, created["id"])
    read = await (await client.get(f"/api/physicians/{created['id']}", headers=auth)).json()
    assert stored is not None and stored.token_hash == hash_token(created["token"])
    assert created["token"] not in str(stored.model_dump())
    assert "token" not in read
    # the feed URL holds the read-only feed key, stored as it is, never the token
    assert created["feed_url"] == f"https://cme.example.org/feeds/{stored.feed_secret}.ics"
    assert stored.feed_secret.startswith("cal_") and created["token"] not in created["feed_url"]
    assert len(created["token"]) >= 4 + 43  # prefix + 32 bytes url-safe


async def test_email_is_unique_case_insensitively(client: TestClient, auth: dict[str, str]) -> None:
    await create_physician(client, auth)

    response = await client.post(
        "/api/physicians", json=physician_body(email="JEANNE.Durand@Example.org"), headers=auth
    )

    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "email"


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"npi": "1234567890"}, "npi", "fails its check digit"),
        ({"npi": "12345"}, "npi", "exactly 10 digits"),
        ({"npi": "12345678a3"}, "npi", "exactly 10 digits"),
        ({"rpps": "1234"}, "rpps", "exactly 11 digits"),
        ({"npi": "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0663"}, "npi", "(0-9)"),
        ({"rpps": "\u0967" * 11}, "rpps", "exactly 11 digits (0-9)"),  # Devanagari ones
        ({"email": "nobody"}, "email", "not an email address"),
        ({"timezone": "Paris"}, "timezone", "unknown IANA timezone"),
        ({"first_name": "Marie\r\nClaire"}, "first_name", "on one line"),  # broke greetings
        ({"last_name": "Durand\u0007"}, "last_name", "without control characters"),
        ({"last_name": "Durand\u2028Martin"}, "last_name", "on one line"),
        ({"first_name": "   "}, "first_name", "must not be blank"),
        ({"first_name": "\u200b"}, "first_name", "invisible formatting characters"),
        ({"last_name": "\u202e"}, "last_name", "invisible formatting characters"),
        ({"last_name": "O'Brien\u202eevil"}, "last_name", "invisible formatting characters"),
        ({"last_name": "Durand\u2066x\u2069"}, "last_name", "invisible formatting characters"),
        ({"first_name": "\u200c\u200d"}, "first_name", "at least one letter"),
        ({"last_name": "1234 -"}, "last_name", "at least one letter"),
        ({"board_ids": {"ABIM": "<b>123</b>"}}, "board_ids.ABIM", "a board id is 1 to 64"),
        ({"board_ids": {"ABIM": ""}}, "board_ids.ABIM", "a board id is 1 to 64"),
        ({"board_ids": {"ABIM": "1" * 65}}, "board_ids.ABIM", "a board id is 1 to 64"),
        ({"board_ids": {"<b>": "123"}}, "board_ids.<b>.[key]", "a board code is 1 to 32"),
        ({"birth_month": 4, "birth_day": 31}, "birth_day", "month 4 has no day 31"),
        ({"birth_month": 2, "birth_day": 30}, "birth_day", "month 2 has no day 30"),
        ({"timezone": "localtime"}, "timezone", "unknown IANA timezone"),
        ({"timezone": "Factory"}, "timezone", "unknown IANA timezone"),
        ({"language": "es"}, "language", "'fr' or 'en'"),
        ({"birth_month": 13}, "birth_month", "less than or equal to 12"),
    ],
)
async def test_bad_identifiers_are_422(
    client: TestClient, auth: dict[str, str], override: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/api/physicians", json=physician_body(**override), headers=auth)

    assert response.status == 422
    error = (await response.json())["errors"][0]
    assert (error["field"], message in error["message"]) == (field, True)


FULLWIDTH_NPI = "".join(chr(0xFF10 + int(d)) for d in "1234567893")
FULLWIDTH_RPPS = "".join(chr(0xFF10 + int(d)) for d in "10003456789")


async def test_names_with_joiners_and_board_ids_as_boards_print_them_are_kept(
    client: TestClient, auth: dict[str, str]
) -> None:
    boards = {"ABIM": "\uff11\uff12\uff13", "SMC": "MMC/2011/12345", "ABP": "AB-12.3 4"}

    created = await create_physician(
        client, auth, first_name="Mah\u200csa", last_name="Rez\u200da\u00ef", board_ids=boards
    )

    assert (created["first_name"], created["last_name"]) == ("Mah\u200csa", "Rez\u200da\u00ef")
    assert created["board_ids"] == {"ABIM": "123", "SMC": "MMC/2011/12345", "ABP": "AB-12.3 4"}


async def test_fullwidth_identifiers_are_stored_in_ascii_digits_and_held_once(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_physician(client, auth, npi=FULLWIDTH_NPI, rpps=FULLWIDTH_RPPS)

    twin = await client.post(
        "/api/physicians",
        json=physician_body(email="twin@example.org", npi="1234567893", rpps=None),
        headers=auth,
    )
    found = await client.get("/api/physicians", params={"q": "1234567893"}, headers=auth)

    assert (created["npi"], created["rpps"]) == ("1234567893", "10003456789")
    assert twin.status == 409
    assert [p["id"] for p in (await found.json())["items"]] == [created["id"]]


async def test_names_are_kept_without_their_surrounding_spaces_and_29_february_is_a_birthday(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = physician_body(first_name="  Anne ", last_name="d’Alembert", birth_month=2, birth_day=29)

    response = await client.post("/api/physicians", json=body, headers=auth)
    created = await response.json()

    assert response.status == 201, created
    assert (created["first_name"], created["last_name"]) == ("Anne", "d’Alembert")
    assert (created["birth_month"], created["birth_day"]) == (2, 29)


async def test_valid_rpps_and_board_ids_are_kept(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(
        client, auth, rpps="10001234567", board_ids={"ABIM": "123456"}, npi=None
    )

    assert (created["rpps"], created["board_ids"], created["npi"]) == (
        "10001234567",
        {"ABIM": "123456"},
        None,
    )


async def test_patch_updates_only_given_fields(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(client, auth)

    response = await client.patch(
        f"/api/physicians/{created['id']}", json={"last_name": "Martin"}, headers=auth
    )

    body = await response.json()
    assert (body["last_name"], body["first_name"], body["npi"]) == (
        "Martin",
        "Jeanne",
        "1234567893",
    )


async def test_patch_to_a_taken_email_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    await create_physician(client, auth)
    other = await create_physician(client, auth, email="paul@example.org")

    response = await client.patch(
        f"/api/physicians/{other['id']}", json={"email": "Jeanne.Durand@example.org"}, headers=auth
    )

    assert response.status == 422


async def test_me_answers_for_the_token_owner(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(client, auth)

    response = await client.get("/api/me", headers=bearer(created["token"]))

    assert (await response.json())["id"] == created["id"]


async def test_rotation_invalidates_the_old_token(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(client, auth)

    response = await client.post(f"/api/physicians/{created['id']}/token", headers=auth)
    new_token = (await response.json())["token"]

    assert (await client.get("/api/me", headers=bearer(created["token"]))).status == 401
    assert (await client.get("/api/me", headers=bearer(new_token))).status == 200
    assert new_token != created["token"]


async def test_physician_can_rotate_own_token(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(client, auth)

    response = await client.post("/api/me/token", headers=bearer(created["token"]))

    assert response.status == 200
    assert (await client.get("/api/me", headers=bearer(created["token"]))).status == 401


async def test_organiser_token_does_not_open_physician_routes(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/me/credits", headers=auth)

    assert response.status == 401


async def test_physician_token_does_not_open_organiser_routes(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_physician(client, auth)

    response = await client.get(
        f"/api/physicians/{created['id']}/credits", headers=bearer(created["token"])
    )

    assert response.status == 401


async def test_find_physician_by_email(client: TestClient, auth: dict[str, str]) -> None:
    created = await create_physician(client, auth)
    await create_physician(client, auth, email="paul@example.org")

    response = await client.get(
        "/api/physicians", params={"email": "JEANNE.durand@example.org"}, headers=auth
    )

    assert [row["id"] for row in (await response.json())["items"]] == [created["id"]]


async def test_unknown_physician_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.get("/api/physicians/4040/credits", headers=auth)

    assert response.status == 404
