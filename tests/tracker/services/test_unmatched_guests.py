"""A Zoom guest who gave no address cannot be matched; the organiser sees the name Zoom showed,
from a webhook as from a report, in the API and on the page in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_series
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tests.tracker.services.test_ingestion import STORM_WEBINAR, _deliver, zoom_client
from tracker.adapters.zoom_report import Stay, stay_events
from tracker.db import Database
from tracker.domain.attendance import shown_name
from tracker.services.ingestion import record

__all__ = ["zoom_client"]  # the fixture, shared with the ingestion tests

START = datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
DURING = datetime(2026, 11, 2, 12, 45, tzinfo=UTC)


def _guest_joined(name: Any) -> dict[str, Any]:
    participant = {"participant_uuid": "guest-1", "join_time": "2026-11-02T11:32:00Z"}
    if name is not None:
        participant["user_name"] = name
    return {
        "event": "webinar.participant_joined",
        "event_ts": 1,
        "payload": {"object": {"id": STORM_WEBINAR, "uuid": "i1", "participant": participant}},
    }


async def test_a_webhook_guest_without_address_is_listed_with_the_name_zoom_showed(
    zoom_client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_series(
        zoom_client,
        auth,
        timezone="UTC",
        start=START.replace(tzinfo=None).isoformat(),
        rrule=None,
        zoom_webinar_id=STORM_WEBINAR,
    )
    cookie = await organiser_cookie(database)

    with time_machine.travel(DURING, tick=True):
        status = await _deliver(zoom_client, _guest_joined("Dr Hélène Guest <iPhone>"))
        api = await (await zoom_client.get("/api/attendance-events/unmatched", headers=auth)).json()
        pages = {
            lang: unescape(
                await (
                    await zoom_client.get(f"/organizer/unmatched?lang={lang}", headers=cookie)
                ).text()
            )
            for lang in ("fr", "en")
        }

    assert status == "unmatched"
    assert [item["reason"] for item in api["items"]] == [
        "no email address (Dr Hélène Guest <iPhone>) to match a physician by"
    ]
    assert (
        "aucune adresse électronique (Dr Hélène Guest <iPhone>) pour retrouver le médecin"
        in pages["fr"]
    )
    assert "no email address (Dr Hélène Guest <iPhone>) to find the physician by" in pages["en"]
    assert "<iPhone>)" not in (
        await (await zoom_client.get("/organizer/unmatched?lang=en", headers=cookie)).text()
    )  # escaped on the page


async def test_a_report_guest_without_address_is_listed_with_the_report_s_name(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(
        client, auth, timezone="UTC", start=START.replace(tzinfo=None).isoformat(), rrule=None
    )
    stay = Stay(
        line=3, name="Invité 2", email=None, join=START, leave=START + timedelta(minutes=30)
    )
    await record(database, stay_events(stay, series_id=series["id"]))

    with time_machine.travel(DURING, tick=True):
        api = await (await client.get("/api/attendance-events/unmatched", headers=auth)).json()

    assert {item["reason"] for item in api["items"]} == {
        "no email address (Invité 2) to match a physician by"
    }


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        (_guest_joined("  Jeanne \t Durand "), "Jeanne Durand"),
        (_guest_joined(None), None),
        (_guest_joined(""), None),
        (_guest_joined(42), None),
        (_guest_joined("bell\x07"), None),
        (_guest_joined("A" * 200), "A" * 79 + "…"),
        ({"name": "Paul (report)"}, "Paul (report)"),
        ({"payload": "not an object"}, None),
        ("not a dict", None),
    ],
)
def test_shown_name_reads_both_shapes_and_keeps_only_printable_short_text(
    payload: Any, shown: str | None
) -> None:
    assert shown_name(payload) == shown
