"""Every invitation kind (reminder REQUEST, moved REQUEST, CANCEL) of a Paris and a New York
series, sent through the real SMTP path with a display name in TRACKER_MAIL_FROM, read back by Python's ``email`` package and by
calendar engines nobody here wrote (ical.js, node-ical, vobject, recurring_ical_events)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
import vobject
from aiohttp.test_utils import TestClient

from tests.calendar_readers import READERS, read_with_every_reader
from tests.factories import create_series, occurrences
from tests.smtp import SmtpServer
from tests.tracker.mail_kinds import build_world
from tracker.app import create_app
from tracker.http.keys import DATABASE, MAIL, WORKER
from tracker.jobs import JobContext, plan_reminders
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

MAIL_FROM = '"Institut Numérique" <webinaires@example.org>'


def _invite(message: EmailMessage) -> bytes:
    (part,) = [p for p in message.iter_attachments() if p.get_filename() == "invite.ics"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


async def test_every_invitation_kind_names_its_organiser_and_time_as_every_reader_reads_it(
    aiohttp_client: Any,
    settings: Settings,
    auth: dict[str, str],
    smtp_server: SmtpServer,
    scheduler: Any,
) -> None:
    named = Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        **settings.model_dump() | {"mail_from": MAIL_FROM, "smtp_url": smtp_server.url},
    )
    client: TestClient = await aiohttp_client(create_app(named))
    app = client.app
    world = await build_world(client, auth)  # Tuesdays 1, 8, 15 December 2026, 12:30 Paris
    new_york = await create_series(  # Tuesdays 1 and 8 December 2026, 9:00 New York
        client,
        auth,
        title="Tuesday grand rounds",
        timezone="America/New_York",
        start="2026-12-01T09:00:00",
        rrule="FREQ=WEEKLY;COUNT=2;BYDAY=TU",
        reminders=["P1D"],
        language="en",
    )
    for physician in (world.jeanne, world.paul):
        response = await client.post(
            f"/api/series/{new_york['id']}/registrations",
            json={"physician_id": physician["id"]},
            headers=auth,
        )
        assert response.status == 201, await response.text()
    new_york_second = (await occurrences(client, auth, new_york["id"]))[1]["id"]
    ctx = JobContext(
        database=app[DATABASE], scheduler=scheduler, grace=timedelta(minutes=90), mail=app[MAIL]
    )
    _first, second, third = world.occurrence_ids
    with time_machine.travel(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
    with time_machine.travel(datetime(2026, 11, 30, 11, 31, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)
        cancel = await client.patch(
            f"/api/occurrences/{second}", json={"status": "cancelled"}, headers=auth
        )
        move = await client.patch(  # into summer time
            f"/api/occurrences/{third}", json={"start": "2027-04-06T18:00:00"}, headers=auth
        )
        assert (cancel.status, move.status) == (200, 200), await move.text()
    with time_machine.travel(datetime(2026, 11, 30, 14, 1, tzinfo=UTC), tick=False):
        await plan_reminders(ctx)  # the P1D reminders of 1 December, 9:00 New York
        move = await client.patch(  # past the American change to summer time
            f"/api/occurrences/{new_york_second}",
            json={"start": "2027-03-16T09:00:00"},
            headers=auth,
        )
        assert move.status == 200, await move.text()
        await app[WORKER].run_once()

    by_method: dict[tuple[str, datetime], list[str]] = {}
    for message in smtp_server.recorder.messages:
        body = _invite(message)
        calendar = vobject.readOne(io.StringIO(body.decode()))
        (event,) = calendar.vevent_list
        assert (event.organizer.value, event.organizer.params) == (
            "mailto:webinaires@example.org",
            {"CN": ["Institut Numérique"]},
        )
        seen = read_with_every_reader(
            body, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2028, 1, 1, tzinfo=UTC)
        )
        starts = {reader: [(i.start, i.status) for i in seen[reader]] for reader in READERS}
        agreed = {tuple(seen) for seen in starts.values()}
        assert len(agreed) == 1, f"the readers disagree on {message['Subject']}: {starts}"
        ((start, status),) = agreed.pop()
        method = calendar.method.value
        assert (method, status) in {("REQUEST", "CONFIRMED"), ("CANCEL", "CANCELLED")}
        by_method.setdefault((method, start), []).append(message["To"].addresses[0].addr_spec)

    assert {key: sorted(to) for key, to in by_method.items()} == {
        ("REQUEST", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)): [
            "jeanne.durand@example.org",
            "paul@example.org",
        ],
        ("CANCEL", datetime(2026, 12, 8, 11, 30, tzinfo=UTC)): [
            "jeanne.durand@example.org",
            "paul@example.org",
        ],
        ("REQUEST", datetime(2027, 4, 6, 16, 0, tzinfo=UTC)): [
            "jeanne.durand@example.org",
            "paul@example.org",
        ],
        ("REQUEST", datetime(2026, 12, 1, 14, 0, tzinfo=UTC)): [
            "jeanne.durand@example.org",
            "paul@example.org",
        ],
        ("REQUEST", datetime(2027, 3, 16, 13, 0, tzinfo=UTC)): [
            "jeanne.durand@example.org",
            "paul@example.org",
        ],
    }
