"""An email field holds exactly one mailbox, everywhere an address enters (issue 8, defect 5).

The physician API (create, update), registrations by email, the physicians CSV import, the
``organizers add`` command, ``TRACKER_MAIL_FROM`` and, as a last line of defence, the outbox.
Attendance emails are only matching keys and are not refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from notifications.compose import Rendered, build_message
from notifications.outbox import enqueue
from notifications.transports import SmtpTransport
from notifications.worker import DeliveryWorker
from tests.factories import create_physician, create_series, physician_body
from tests.smtp import SmtpServer
from tests.tracker.mail_kinds import build_world, outbox
from tests.tracker.test_cli import run
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Physician
from tracker.errors import ConfigError
from tracker.http.keys import DATABASE, MAIL, WORKER
from tracker.jobs import JobContext, plan_reminders
from tracker.settings import Settings, load_settings

GRACE = timedelta(minutes=90)
LISTS = [
    "victim@example.org,attacker@evil.example",
    "victim@example.org;attacker@evil.example",
    "victim@example.org, attacker@evil.example",
    "Victim <victim@example.org>",
    '"victim@example.org,attacker"@evil.example',
]


@pytest.mark.parametrize("email", LISTS)
async def test_creating_a_physician_with_anything_but_one_address_is_422(
    client: TestClient, auth: dict[str, str], email: str
) -> None:
    response = await client.post("/api/physicians", json=physician_body(email=email), headers=auth)
    body = await response.json()

    assert (response.status, response.content_type) == (422, "application/problem+json")
    assert body["errors"][0]["field"] == "email"
    assert "is not an email address" in body["errors"][0]["message"]


async def test_changing_a_physician_email_to_a_list_is_422_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_physician(client, auth)

    response = await client.patch(
        f"/api/physicians/{created['id']}", json={"email": LISTS[0]}, headers=auth
    )
    stored = await (await client.get(f"/api/physicians/{created['id']}", headers=auth)).json()

    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "email"
    assert stored["email"] == "jeanne.durand@example.org"


async def test_registering_by_a_list_of_addresses_is_422_naming_the_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)
    await create_physician(client, auth, email="victim@example.org")

    response = await client.post(
        f"/api/series/{series['id']}/registrations", json={"email": LISTS[0]}, headers=auth
    )
    body = await response.json()

    assert response.status == 422
    assert (body["errors"][0]["field"], "is not an email address" in body["detail"]) == (
        "email",
        True,
    )


async def test_addresses_are_normalised_so_that_uniqueness_and_lookups_agree(
    client: TestClient, auth: dict[str, str]
) -> None:
    chloe = await create_physician(client, auth, email="CHLOÉ.Simon@Example.ORG", npi=None)
    zoe = await create_physician(client, auth, email="zoe@exämple.org", npi=None)

    again = await client.post(
        "/api/physicians",
        json=physician_body(email="chloé.simon@example.org", npi=None),
        headers=auth,
    )
    punycode = await client.post(
        "/api/physicians",
        json=physician_body(email="ZOE@xn--exmple-cua.org", npi=None),
        headers=auth,
    )
    found = (
        await (
            await client.get(
                "/api/physicians", params={"email": " Chloé.SIMON@example.org"}, headers=auth
            )
        ).json()
    )["items"]

    assert (chloe["email"], zoe["email"]) == ("chloé.simon@example.org", "zoe@exämple.org")
    assert (again.status, punycode.status) == (422, 422)
    assert [row["id"] for row in found] == [chloe["id"]]


def test_import_names_the_line_of_an_address_list_and_keeps_the_good_rows(
    database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "physicians.csv"
    source.write_text(
        "first_name,last_name,email\n"
        "Jeanne,Durand,jeanne@example.org\n"
        'Victor,Tim,"victim@example.org,attacker@evil.example"\n'
        "Chloé,Simon,chloé.simon@example.org\n",
        encoding="utf-8",
    )

    result = run(
        ["import-physicians", str(source)], cwd=tmp_path, TRACKER_DATABASE_URL=database_url
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2 created, 0 updated, 0 unchanged, 1 bad row"
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert error.startswith(
        "line 3: email: 'victim@example.org,attacker@evil.example' is not an email address: "
    )


def test_organizers_add_refuses_an_address_list_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    result = run(
        ["organizers", "add", "--name", "X", "--email", LISTS[0]],
        cwd=tmp_path,
        TRACKER_DATABASE_URL=database_url,
    )

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"Error: {LISTS[0]!r} is not an email address: ")


@pytest.mark.parametrize("value", [LISTS[0], "Institut <webinars@cme.example.org>, x@evil.example"])
def test_a_mail_from_that_is_not_one_mailbox_stops_start_up_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, mail_from=value)

    assert str(error.value).startswith("configuration error: TRACKER_MAIL_FROM: ")
    assert "\n" not in str(error.value)


async def test_a_mail_from_with_a_display_name_names_the_sender_and_sends_from_its_address(
    aiohttp_client: Any,
    settings: Settings,
    auth: dict[str, str],
    smtp_server: SmtpServer,
    scheduler: Any,
) -> None:
    named = Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        **settings.model_dump()
        | {
            "mail_from": '"Institut du Numérique, Paris" <Webinars@CME.example.org>',
            "smtp_url": smtp_server.url,
        },
    )
    client: TestClient = await aiohttp_client(create_app(named))
    app = client.app
    await build_world(client, auth)
    ctx = JobContext(database=app[DATABASE], scheduler=scheduler, grace=GRACE, mail=app[MAIL])

    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await app[WORKER].run_once()

    message = smtp_server.recorder.messages[0]
    (sender,) = message["From"].addresses
    invite = next(p for p in message.iter_attachments() if p.get_filename() == "invite.ics")
    payload = invite.get_payload(decode=True)
    assert isinstance(payload, bytes)
    (event,) = Calendar.from_ical(payload).walk("VEVENT")
    assert {envelope[0] for envelope in smtp_server.recorder.envelopes} == {
        "webinars@cme.example.org"
    }
    assert (sender.display_name, sender.addr_spec) == (
        "Institut du Numérique, Paris",
        "webinars@cme.example.org",
    )
    assert str(event["ORGANIZER"]) == "mailto:webinars@cme.example.org"


async def test_a_stored_address_list_is_never_mailed_and_the_row_says_why(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    """A row written before addresses were checked (or by another tool) holds a list."""
    world = await build_world(client, auth)
    async with database.session() as session:
        victim = await session.get_one(Physician, world.jeanne["id"])
        victim.email = LISTS[0]
        await session.commit()
    ctx = JobContext(database=database, scheduler=scheduler, grace=GRACE, mail=client.app[MAIL])

    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        await _worker(database, smtp_server).run_once()
    rows = {row.physician_id: row for row in await outbox(database)}

    assert smtp_server.recorder.recipients() == ["paul@example.org"]
    assert (rows[world.jeanne["id"]].status, rows[world.paul["id"]].status) == ("failed", "sent")
    assert "is not an email address" in (rows[world.jeanne["id"]].last_error or "")


def _worker(database: Database, smtp: SmtpServer) -> DeliveryWorker:
    return DeliveryWorker(
        database.session,
        SmtpTransport(smtp.url),
        sender="webinars@cme.example.org",
        rate_per_second=0,
    )


async def test_the_outbox_refuses_a_message_to_several_recipients_whoever_built_it(
    database: Database, smtp_server: SmtpServer
) -> None:
    now = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    message = build_message(
        Rendered("Hello", "Body\n", "<p>Body</p>"),
        sender="webinars@cme.example.org",
        recipient="victim@example.org",
        domain="cme.example.org",
        now=now,
    )
    del message["To"]
    message["To"] = LISTS[0]  # what a careless caller might hand over

    async with database.session() as session:
        stored = await enqueue(session, key="test:list", kind="test", message=message, now=now)
        await session.commit()
    with time_machine.travel(now, tick=False):
        await _worker(database, smtp_server).run_once()
    (row,) = await outbox(database)

    assert stored is True
    assert smtp_server.recorder.messages == []
    assert row.status == "failed"
    assert "exactly one recipient" in (row.last_error or "")


async def test_attendance_emails_are_matching_keys_and_are_not_refused(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)
    occurrence = (
        await (await client.get(f"/api/series/{series['id']}/occurrences", headers=auth)).json()
    )["items"][0]

    with time_machine.travel(datetime(2027, 3, 1, 12, 45, tzinfo=UTC), tick=True):
        response = await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "odd-1",
                    "occurrence_id": occurrence["id"],
                    "email": LISTS[0],
                    "kind": "join",
                    "at": "2027-03-01T11:30:00Z",
                }
            ],
            headers=auth,
        )

    assert (response.status, await response.json()) == (
        202,
        {"accepted": 1, "duplicates": 0, "unmatched": 1},
    )
