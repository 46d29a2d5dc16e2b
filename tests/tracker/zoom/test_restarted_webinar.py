"""A webinar the host ended and started again (SPEC 2 "Credits", SPEC 8): reconciliation reads
the report of every instance of the session, and one instance's report never drops the
attendance the webhooks recorded on another. Through the real app and the local fake Zoom,
both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from tests.factories import create_physician, create_series, occurrences
from tests.tracker.zoom.test_reconciliation import (
    WEBINAR,
    app_client,
    awards,
    deliver,
    fake,
    reconcile,
    report_row,
    webhook,
    z,
    zoom_settings,
)
from tests.zoom_fake import loopback_only
from tracker.db import Database
from tracker.domain.models import Award, Certificate
from tracker.services.context import load_services
from tracker.services.finalisation import Lease, finalise_session
from tracker.settings import Settings

__all__ = ["app_client", "fake", "loopback_only", "zoom_settings"]

#: The session: 1 March 2027, 22:40-23:25 UTC.
START = datetime(2027, 3, 1, 22, 40, tzinfo=UTC)
END = START + timedelta(minutes=45)
FIRST = "4444AAAiAAAAAiAiAiiAii=="  # the first run
SECOND = "/ab//cdEFgh+ij=="  # after the restart: starts with "/", holds "//": encoded twice


def at(hour: int, minute: int) -> datetime:
    return datetime(2027, 3, 1, hour, minute, tzinfo=UTC)


def on(instance: str, payload: dict[str, Any]) -> dict[str, Any]:
    payload["payload"]["object"]["uuid"] = instance
    return payload


def ended(instance: str, when: datetime) -> dict[str, Any]:
    return {
        "event": "webinar.ended",
        "event_ts": int(when.timestamp() * 1000),
        "payload": {
            "account_id": "acct",
            "object": {"id": WEBINAR, "uuid": instance, "end_time": z(when)},
        },
    }


@pytest.mark.parametrize(
    ("second_report_has_her", "seconds", "credit"),
    [
        # the second report knows she left at 23:20: 22:40-23:00 and 23:07-23:20
        (True, 33 * 60, 0.5),
        # it does not list her: her second connection counts to the end, as the webhooks say
        (False, 38 * 60, 0.75),
    ],
)
async def test_a_rejoin_after_a_restart_keeps_its_credit_through_reconciliation(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
    second_report_has_her: bool,
    seconds: int,
    credit: float,
) -> None:
    zoom, _ = fake
    series = await create_series(
        app_client,
        auth,
        timezone="UTC",
        start="2027-03-01T22:40:00",
        duration_minutes=45,
        rrule=None,
        zoom_webinar_id=WEBINAR,
    )
    session = (await occurrences(app_client, auth, series["id"]))[0]
    jeanne = await create_physician(
        app_client, auth, email="jeanne@example.org", npi=None, first_name="Jeanne"
    )
    other = await create_physician(app_client, auth, email="paul@example.org", npi=None)
    who = {"email": "jeanne@example.org", "name": "Jeanne"}
    delivered = [
        on(FIRST, webhook(True, at(22, 38), connection="j1", **who)),
        on(FIRST, webhook(False, at(23, 0), connection="j1", **who)),
        ended(FIRST, at(23, 1)),
        on(SECOND, webhook(True, at(23, 7), connection="j2", **who)),  # her leave never came
    ]
    zoom.instances[WEBINAR] = [
        (FIRST, "2027-03-01T22:38:00Z"),
        (SECOND, "2027-03-01T23:07:00Z"),
        ("nextweek==", "2027-03-08T22:38:00Z"),  # another session's
    ]
    zoom.reports[FIRST] = [report_row(at(22, 38), at(23, 0), user_id="j1", **who)]
    zoom.reports[SECOND] = [
        report_row(at(23, 8), at(23, 25), user_id="p2", email="paul@example.org", name="Paul")
    ]
    if second_report_has_her:
        zoom.reports[SECOND].append(report_row(at(23, 7), at(23, 20), user_id="j2", **who))
    services = await load_services(database, zoom_settings)
    late = END + timedelta(hours=2)

    with time_machine.travel(late, tick=True):
        assert [await deliver(app_client, p) for p in delivered] == ["accepted"] * 4
        page = await app_client.get(f"/api/occurrences/{session['id']}/attendance", headers=auth)
        assert page.status == 200
        before = await awards(database, session["id"])
        outcome = await reconcile(database, zoom_settings, session["id"])
        assert await finalise_session(
            database,
            services.mail,
            session["id"],
            now=late,
            grace=timedelta(minutes=90),
            lease=Lease(owner="test"),
        )
        final = await awards(database, session["id"])
    async with database.session() as db:
        issued = (
            await db.exec(
                select(Certificate)
                .where(Certificate.physician_id == jeanne["id"])
                .order_by(col(Certificate.version))
            )
        ).all()
        award = (
            await db.exec(
                select(Award).where(
                    Award.occurrence_id == session["id"], Award.physician_id == jeanne["id"]
                )
            )
        ).one()

    assert before[jeanne["id"]] == (38 * 60, {"AMA_PRA_1": 0.75})  # the webhooks alone
    rows = 3 if second_report_has_her else 2
    assert (outcome.reason, outcome.rows, outcome.added) == (None, rows, 2 * rows)
    assert final[jeanne["id"]] == (seconds, {"AMA_PRA_1": credit})
    assert final[other["id"]] == (17 * 60, {"AMA_PRA_1": 0.25})
    assert [c.credits for c in issued] == [{"AMA_PRA_1": credit}]
    receipt = json.loads(award.receipt) if isinstance(award.receipt, str) else award.receipt
    assert receipt is not None
    assert receipt["seconds"] == seconds
    kept = {c["id"]: bool(c["intervals"]) for c in receipt["connections"]}
    # her open connection on the second run is left to that run's report alone, never to the
    # first run's
    assert kept["uuid-j2"] is not second_report_has_her
    report_paths = sorted(s.raw_path for s in zoom.seen if s.raw_path.endswith("/participants"))
    assert report_paths == [
        "/v2/report/webinars/%252Fab%252F%252FcdEFgh%252Bij%253D%253D/participants",
        "/v2/report/webinars/4444AAAiAAAAAiAiAiiAii%3D%3D/participants",
    ]


async def test_reconciliation_leaves_out_the_waiting_room(
    app_client: TestClient,
    auth: dict[str, str],
    database: Database,
    zoom_settings: Settings,
    fake: Any,
) -> None:
    zoom, _ = fake
    series = await create_series(
        app_client,
        auth,
        timezone="UTC",
        start="2027-03-01T22:40:00",
        duration_minutes=45,
        rrule=None,
        zoom_webinar_id=WEBINAR,
    )
    session = (await occurrences(app_client, auth, series["id"]))[0]
    john = await create_physician(app_client, auth, email="john@example.org", npi=None)
    who = {"email": "john@example.org", "name": "John Smith"}
    zoom.instances[WEBINAR] = [(FIRST, "2027-03-01T22:38:00Z")]
    zoom.reports[FIRST] = [
        report_row(at(22, 40), at(23, 15), user_id="j", **who),
        report_row(at(23, 15), at(23, 20), user_id="j", **who) | {"status": "in_waiting_room"},
    ]

    with time_machine.travel(END + timedelta(hours=2), tick=True):
        outcome = await reconcile(database, zoom_settings, session["id"])
        found = await awards(database, session["id"])

    assert (outcome.reason, outcome.rows, outcome.added) == (None, 2, 2)
    assert found == {john["id"]: (35 * 60, {"AMA_PRA_1": 0.5})}
