"""Self-registration through the API (SPEC 6): the series' setting, the double opt-in, the same
answer for every address, the waitlist and its order, the rate limit, and two confirmations
racing for the last seat."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from html import unescape

import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, delete, func, select

from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from schedules.clock import utcnow
from tests.factories import create_physician, create_series, every_item
from tests.smtp import SmtpServer
from tests.tracker.self_registration_world import (
    ask,
    code_in,
    confirm,
    open_series,
    queued,
    request_body,
)
from tracker.db import Database
from tracker.domain.models import Physician, Registration, SelfRegistration
from tracker.services import self_registrations as service
from tracker.services.context import load_services
from tracker.settings import Settings


async def test_a_series_is_closed_unless_opened_and_capacity_is_a_positive_number(
    client: TestClient, auth: dict[str, str]
) -> None:
    plain = await create_series(client, auth)
    read = await (await client.get(f"/api/series/{plain['id']}", headers=auth)).json()
    opened = await client.patch(
        f"/api/series/{plain['id']}", json={"registration": "open", "capacity": 2}, headers=auth
    )
    bad = [
        await client.patch(f"/api/series/{plain['id']}", json=body, headers=auth)
        for body in ({"capacity": 0}, {"capacity": -1}, {"registration": "maybe"})
    ]
    cleared = await client.patch(
        f"/api/series/{plain['id']}", json={"capacity": None}, headers=auth
    )

    assert (read["registration"], read["capacity"]) == ("closed", None)
    body = await opened.json()
    assert (body["registration"], body["capacity"]) == ("open", 2)
    assert body["sequence"] == read["sequence"]  # no feed shows it: the feed's sequence stays
    assert [r.status for r in bad] == [422, 422, 422]
    assert (await cleared.json())["capacity"] is None


async def test_a_request_is_answered_alike_for_known_and_unknown_addresses(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth)
    await create_physician(client, auth)  # jeanne.durand@example.org is known

    known = await client.post(
        f"/api/series/{series['id']}/self-registrations",
        json=request_body(email="Jeanne.Durand@EXAMPLE.org"),
    )
    unknown = await client.post(
        f"/api/series/{series['id']}/self-registrations", json=request_body()
    )

    assert (known.status, unknown.status) == (202, 202)
    assert await known.json() == await unknown.json()
    keys = [key for key, _ in await queued(database, "self_registration")]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert all(key.startswith("self-registration:") for key in keys)
    async with database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Registration))).one() == 0


async def test_closed_invite_hidden_and_unknown_series_refuse(
    client: TestClient, auth: dict[str, str]
) -> None:
    closed = await create_series(client, auth, title="Closed")
    invite = await create_series(client, auth, title="Invite", registration="invite")
    hidden = await open_series(client, auth, title="Hidden", public=False)

    statuses = [await ask(client, s["id"]) for s in (closed, invite, hidden)]

    assert statuses == [409, 409, 404]
    assert await ask(client, 99999) == 404


async def test_a_series_with_no_session_to_come_takes_no_registration_on_any_path(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Eight Mondays from 1 March 2027: once the last is over (or every one left is
    cancelled), the API answers 409, the page says the series has ended, in its language,
    without the form, and a posted form sends no email."""
    series = await open_series(client, auth)
    cancelled = await open_series(client, auth, title="All cancelled")
    for occurrence in await every_item(client, auth, f"/api/series/{cancelled['id']}/occurrences"):
        response = await client.patch(
            f"/api/occurrences/{occurrence['id']}", json={"status": "cancelled"}, headers=auth
        )
        assert response.status == 200, await response.text()

    with time_machine.travel("2027-04-20T09:00:00Z", tick=False):  # after the eighth Monday
        api = [await ask(client, s["id"]) for s in (series, cancelled)]
        page = await client.get(f"/series/{series['slug']}?lang=fr")
        html = unescape(await page.text())
        posted = await client.post(
            f"/series/{series['slug']}?lang=en",
            data={"first_name": "Ana", "last_name": "Lima", "email": "ana@example.org"},
        )
        posted_html = unescape(await posted.text())

    assert api == [409, 409]
    assert page.status == 200
    assert "Cette série n'a plus de séance à venir : les inscriptions sont fermées." in html
    assert 'id="selfreg-form"' not in html
    assert posted.status == 409
    assert "This series has no session to come: registration is closed." in posted_html
    assert await queued(database, "self_registration") == []
    with time_machine.travel("2027-04-19T10:00:00Z", tick=False):  # the last one is on
        assert await ask(client, series["id"]) == 202


async def test_identifiers_are_checked_as_for_physicians(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth)

    bad_npi = await client.post(
        f"/api/series/{series['id']}/self-registrations", json=request_body(npi="1234567890")
    )
    bad_rpps = await client.post(
        f"/api/series/{series['id']}/self-registrations", json=request_body(rpps="123")
    )
    two = await client.post(
        f"/api/series/{series['id']}/self-registrations",
        json=request_body(email="a@example.org, b@example.org"),
    )

    assert [r.status for r in (bad_npi, bad_rpps, two)] == [422, 422, 422]
    assert (await bad_npi.json())["errors"][0]["field"] == "npi"
    assert await ask(client, series["id"], npi="1234567893", rpps="10001234567") == 202


async def test_confirmation_by_email_creates_and_registers_once(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    smtp_server: SmtpServer,
) -> None:
    series = await open_series(client, auth)
    assert await ask(client, series["id"]) == 202
    worker = DeliveryWorker(
        database.session,
        SmtpTransport(smtp_server.url),
        sender="w@cme.example.org",
        rate_per_second=0,
    )
    await worker.run_once()
    [message] = smtp_server.recorder.messages
    code = code_in(message)

    shown = await client.get(f"/registration/{code}")
    first = await confirm(client, code)
    again = await confirm(client, code)

    assert message["To"].addresses[0].addr_spec == "ines.moreau@example.org"
    assert str(message["Subject"]).startswith("Confirmez votre inscription : ")
    assert len(code) >= 43  # 256 random bits, url-safe
    assert shown.status == 200 and "Confirmer mon inscription" in await shown.text()
    assert first.status == 200, await first.text()
    assert "Vous êtes inscrit(e)" in await first.text()
    assert again.status == 404
    physician = await client.get(
        "/api/physicians", params={"email": "INES.MOREAU@example.org"}, headers=auth
    )
    [found] = (await physician.json())["items"]
    assert (found["first_name"], found["npi"], found["consent_board_reporting"]) == (
        "Inès",
        None,
        True,
    )
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")
    assert [r["physician_id"] for r in registered] == [found["id"]]
    async with database.session() as session:
        row = (await session.exec(select(SelfRegistration))).one()
    assert (row.status, row.code_hash) == ("registered", None)
    [(key, welcome)] = await queued(database, "welcome")  # new here: welcomed like any newcomer
    assert key == f"welcome:{found['id']}:1"
    assert welcome["To"].addresses[0].addr_spec == "ines.moreau@example.org"


async def test_a_known_address_is_matched_in_any_case_and_not_duplicated(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth)
    jeanne = await create_physician(client, auth)
    await ask(client, series["id"], email="JEANNE.Durand@Example.org", first_name="Someone")
    [(_, message)] = await queued(database, "self_registration")

    response = await confirm(client, code_in(message))

    assert response.status == 200
    async with database.session() as session:
        physicians = (await session.exec(select(Physician))).all()
    assert [(p.id, p.first_name) for p in physicians] == [(jeanne["id"], "Jeanne")]
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")
    assert [r["physician_id"] for r in registered] == [jeanne["id"]]
    assert await queued(database, "welcome") == []  # known already: no second welcome


async def test_an_expired_link_opens_nothing(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth)
    await ask(client, series["id"])
    [(_, message)] = await queued(database, "self_registration")

    with time_machine.travel(utcnow() + timedelta(hours=49), tick=True):
        late = await confirm(client, code_in(message))
        page = await client.get(f"/registration/{code_in(message)}")

    assert (late.status, page.status) == (404, 404)
    assert await every_item(client, auth, f"/api/series/{series['id']}/registrations") == []


async def _confirm_all(
    client: TestClient, database: Database, series_id: int, names: list[str]
) -> None:
    for name in names:
        assert await ask(client, series_id, email=f"{name}@example.org", first_name=name) == 202
    messages = await queued(database, "self_registration")
    by_address = {m["To"].addresses[0].addr_spec: m for _, m in messages}
    for name in names:
        response = await confirm(client, code_in(by_address[f"{name}@example.org"]))
        assert response.status == 200, await response.text()


async def test_past_capacity_requests_wait_in_order_and_move_up_when_a_seat_frees(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    await _confirm_all(client, database, series["id"], ["anna", "bruno", "chloe"])
    url = f"/api/series/{series['id']}/self-registrations"

    waiting = await every_item(client, auth, url, status="waitlisted")
    [anna] = await every_item(client, auth, url, status="registered")
    gone = await client.delete(
        f"/api/series/{series['id']}/registrations/{anna['physician_id']}", headers=auth
    )
    after = await every_item(client, auth, url, status="waitlisted")
    promoted = await queued(database, "waitlist_promoted")

    assert [(w["first_name"], w["position"]) for w in waiting] == [("bruno", 1), ("chloe", 2)]
    assert gone.status == 204
    assert [(w["first_name"], w["position"]) for w in after] == [("chloe", 1)]
    [(key, message)] = promoted
    assert message["To"].addresses[0].addr_spec == "bruno@example.org"
    assert str(message["Subject"]).startswith("Une place s'est libérée : ")
    assert key.startswith(f"waitlist-promoted:{waiting[0]['id']}:{waiting[0]['physician_id']}:")
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")
    assert [r["physician_id"] for r in registered] == [waiting[0]["physician_id"]]


async def test_a_larger_capacity_gives_the_new_seats_to_those_in_line(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    await _confirm_all(client, database, series["id"], ["anna", "bruno", "chloe"])

    await client.patch(f"/api/series/{series['id']}", json={"capacity": 2}, headers=auth)
    url = f"/api/series/{series['id']}/self-registrations"
    waiting = await every_item(client, auth, url, status="waitlisted")
    pending = await every_item(client, auth, url, status="pending")

    assert [w["first_name"] for w in waiting] == ["chloe"]
    assert pending == []
    assert len(await queued(database, "waitlist_promoted")) == 1


async def test_the_waitlist_pages_through_in_line_order(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    names = ["anna", "bruno", "chloe", "david", "emma"]
    await _confirm_all(client, database, series["id"], names)
    url = f"/api/series/{series['id']}/self-registrations"

    first = await (
        await client.get(url, params={"status": "waitlisted", "limit": "3"}, headers=auth)
    ).json()
    second = await (
        await client.get(
            url,
            params={"status": "waitlisted", "limit": "3", "cursor": first["next_cursor"]},
            headers=auth,
        )
    ).json()
    bad = await client.get(url, params={"status": "lost"}, headers=auth)
    anonymous = await client.get(url)

    assert [(i["first_name"], i["position"]) for i in first["items"] + second["items"]] == [
        ("bruno", 1),
        ("chloe", 2),
        ("david", 3),
        ("emma", 4),
    ]
    assert second["next_cursor"] is None
    assert (bad.status, anonymous.status) == (400, 401)


async def test_requests_are_rate_limited_per_client(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth)

    statuses = [await ask(client, series["id"], email=f"p{i}@example.org") for i in range(11)]
    refused = await client.post(
        f"/api/series/{series['id']}/self-registrations", json=request_body()
    )

    assert statuses == [202] * 10 + [429]
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0


async def test_two_confirmations_for_the_last_seat_give_one_seat_and_one_place_in_line(
    client: TestClient, auth: dict[str, str], database: Database, settings: Settings
) -> None:
    """Run on both engines; on PostgreSQL the two transactions truly overlap (READ COMMITTED:
    without the lock on the series row, both would count one free seat)."""
    series = await open_series(client, auth, capacity=1)
    for name in ("anna", "bruno"):
        assert await ask(client, series["id"], email=f"{name}@example.org") == 202
    codes = [code_in(m) for _, m in await queued(database, "self_registration")]
    services = await load_services(database, settings)

    for _ in range(3):  # a few rounds: the race is real on every one
        done = await asyncio.gather(*(service.confirm(services, code) for code in codes))
        outcomes = sorted(d.confirmation.outcome for d in done if d is not None)
        assert outcomes == ["registered", "waitlisted"]
        async with database.session() as session:
            seats = (
                await session.exec(
                    select(func.count())
                    .select_from(Registration)
                    .where(Registration.series_id == series["id"])
                )
            ).one()
            rows = (
                await session.exec(select(SelfRegistration).order_by(col(SelfRegistration.id)))
            ).all()
        assert seats == 1
        assert sorted(r.status for r in rows[-2:]) == ["registered", "waitlisted"]
        # Start again: both leave, two new requests race for the seat.
        await _reset(database, series["id"])
        for name in ("anna", "bruno"):
            assert await ask(client, series["id"], email=f"{name}@example.org") == 202
        codes = [code_in(m) for _, m in (await queued(database, "self_registration"))[-2:]]


async def _reset(database: Database, series_id: int) -> None:
    async with database.session() as session:
        await session.exec(delete(Registration).where(col(Registration.series_id) == series_id))
        await session.exec(
            delete(SelfRegistration).where(col(SelfRegistration.series_id) == series_id)
        )
        await session.commit()


async def test_a_newcomer_confirming_an_npi_another_physician_holds_is_registered_without_it(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """The public form and its link are open to anyone with a mailbox: a page saying "this NPI
    is taken" would tell them who is registered. The number is left off the new physician, the
    request keeps it as given, and the organiser decides whose it is."""
    jeanne = await create_physician(client, auth, npi="1234567893")
    series = await open_series(client, auth)
    assert await ask(client, series["id"], npi="1234567893", rpps="10001234567") == 202
    [(_, message)] = await queued(database, "self_registration")

    confirmed = await confirm(client, code_in(message))

    assert confirmed.status == 200, await confirmed.text()
    assert "Vous êtes inscrit(e)" in await confirmed.text()  # the page says nothing else
    found = await client.get(
        "/api/physicians", params={"email": "ines.moreau@example.org"}, headers=auth
    )
    [ines] = (await found.json())["items"]
    assert (ines["npi"], ines["rpps"]) == (None, "10001234567")
    kept = await (await client.get(f"/api/physicians/{jeanne['id']}", headers=auth)).json()
    assert kept["npi"] == "1234567893"
    async with database.session() as session:
        row = (await session.exec(select(SelfRegistration))).one()
    assert (row.status, row.physician_id, row.npi) == ("registered", ines["id"], "1234567893")
