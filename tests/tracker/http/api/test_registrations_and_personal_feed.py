"""Registrations decide what a physician's personal feed shows; a rotated token's feed is gone."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.factories import create_physician, create_series


async def test_register_by_id_then_by_email_is_idempotent(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)
    physician = await create_physician(client, auth)

    first = await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    again = await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"email": "JEANNE.DURAND@example.org"},
        headers=auth,
    )

    assert (first.status, again.status) == (201, 200)
    listed = (
        await (await client.get(f"/api/series/{series['id']}/registrations", headers=auth)).json()
    )["items"]
    assert [row["physician_id"] for row in listed] == [physician["id"]]


async def test_register_unknown_email_or_physician_is_refused(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)

    by_email = await client.post(
        f"/api/series/{series['id']}/registrations", json={"email": "x@example.org"}, headers=auth
    )
    by_id = await client.post(
        f"/api/series/{series['id']}/registrations", json={"physician_id": 999}, headers=auth
    )
    both = await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": 1, "email": "x@example.org"},
        headers=auth,
    )

    assert (by_email.status, by_id.status, both.status) == (422, 404, 422)


async def test_personal_feed_shows_only_registered_series(
    client: TestClient, auth: dict[str, str]
) -> None:
    wanted = await create_series(client, auth, title="Registered", public=False)
    await create_series(client, auth, title="Other")
    physician = await create_physician(client, auth)
    await client.post(
        f"/api/series/{wanted['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )

    response = await client.get(f"/feeds/{physician['token']}.ics")

    calendar = Calendar.from_ical(await response.read())
    assert [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")] == ["Registered"]
    assert str(calendar["X-WR-CALNAME"]).startswith("Mes webinaires")
    assert response.headers["Cache-Control"].startswith("private")
    # The token is in the feed once, as its SOURCE (RFC 7986: the URL it is served at).
    lines = (await response.text()).replace("\r\n ", "").splitlines()  # unfolded
    assert [line for line in lines if physician["token"] in line] == [
        f"SOURCE:https://cme.example.org/feeds/{physician['token']}.ics"
    ]


async def test_personal_feed_supports_conditional_get(
    client: TestClient, auth: dict[str, str]
) -> None:
    physician = await create_physician(client, auth)
    first = await client.get(f"/feeds/{physician['token']}.ics")

    again = await client.get(
        f"/feeds/{physician['token']}.ics", headers={"If-None-Match": first.headers["ETag"]}
    )

    assert again.status == 304


async def test_unregistering_removes_the_series_from_the_feed(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)
    physician = await create_physician(client, auth)
    await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )

    response = await client.delete(
        f"/api/series/{series['id']}/registrations/{physician['id']}", headers=auth
    )

    feed = Calendar.from_ical(await (await client.get(f"/feeds/{physician['token']}.ics")).read())
    assert (response.status, feed.walk("VEVENT")) == (204, [])


async def test_rotated_token_feed_answers_404(client: TestClient, auth: dict[str, str]) -> None:
    physician = await create_physician(client, auth)
    await client.post(f"/api/physicians/{physician['id']}/token", headers=auth)

    response = await client.get(f"/feeds/{physician['token']}.ics")

    assert response.status == 404


async def test_made_up_token_feed_answers_404(client: TestClient) -> None:
    response = await client.get("/feeds/phy_nothing.ics")

    assert response.status == 404
