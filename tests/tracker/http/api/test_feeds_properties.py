"""Every feed of the real app, for any title, description or physician name the API accepts:
always 200, parses back (icalendar, recurring_ical_events), and gives the text back modulo the
documented cleaning (see tests/schedules/test_ical_properties.py).

The app and its database are built once per engine; Hypothesis runs in a worker thread and hands
each example to the test's event loop, so shrinking works as usual.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from recurring_ical_events import of

from schedules.ical import clean_text
from tests.factories import create_physician, create_series
from tests.hostile_text import hostile_text, non_empty
from tests.ical_text import text_of
from tests.schedules.test_ical_properties import assert_well_formed

TITLES = non_empty(hostile_text(max_size=200))
DESCRIPTIONS = hostile_text(max_size=20_000)


#: Names as the API takes them: on one line, no control character, not blank (it refuses
#: others with 422, test_physicians_api.py); format characters, marks and symbols stay.
def _as_a_name(text: str) -> str:
    """Hostile text as the API takes a name: no control, invisible format or bidi character
    (the joiners stay), at least one letter."""
    kept = "".join(
        c
        for c in text
        if unicodedata.category(c) not in ("Cc", "Zl", "Zp", "Cf", "Co", "Cn", "Cs")
        or c in "\u200c\u200d"
    ).strip()
    if any(unicodedata.category(c).startswith("L") for c in kept):
        return kept
    return ("Zoé " + kept)[:100].strip()


NAMES = hostile_text(max_size=100).map(_as_a_name)


def _in_loop(
    loop: asyncio.AbstractEventLoop, check: Callable[..., Coroutine[Any, Any, None]]
) -> Callable[..., None]:
    """A synchronous function, for Hypothesis, that runs ``check`` on the test's event loop."""

    def run(**example: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(**example), loop).result(timeout=120)

    return run


async def test_every_feed_serves_any_text_the_api_accepts(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await create_series(client, auth)
    physician = await create_physician(client, auth)
    await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": physician["id"]},
        headers=auth,
    )
    paths = ["/calendar.ics", f"/series/{series['slug']}.ics", f"/feeds/{physician['token']}.ics"]

    async def check(title: str, description: str, first: str, last: str) -> None:
        edits = [
            await client.patch(
                f"/api/series/{series['id']}",
                json={"title": title, "description": description},
                headers=auth,
            ),
            await client.patch(
                f"/api/physicians/{physician['id']}",
                json={"first_name": first, "last_name": last},
                headers=auth,
            ),
        ]
        assert [edit.status for edit in edits] == [200, 200], [await e.text() for e in edits]
        calendars = []
        for path in paths:
            response = await client.get(path)
            assert response.status == 200, await response.text()
            calendars.append(assert_well_formed(await response.read()))

        cleaned = clean_text(description).strip()
        for calendar in calendars:
            events = list(of(calendar).between(date(2027, 1, 1), date(2028, 1, 1)))
            assert len(events) == 8
            assert {str(event["SUMMARY"]) for event in events} == {clean_text(title)}
            assert str(events[0]["DESCRIPTION"]).startswith(
                cleaned + "\n\n" if cleaned else "Rejoindre"
            )
        own, personal = calendars[1], calendars[2]
        assert text_of(own, "NAME") == text_of(own, "X-WR-CALNAME") == clean_text(title)
        if clean_text(description):
            assert text_of(own, "X-WR-CALDESC") == clean_text(description)
        assert text_of(personal, "X-WR-CALDESC") == clean_text(f"{first} {last}")

    examples = settings(max_examples=20, deadline=None, derandomize=True, database=None)(
        given(title=TITLES, description=DESCRIPTIONS, first=NAMES, last=NAMES)(
            _in_loop(asyncio.get_running_loop(), check)
        )
    )

    await asyncio.to_thread(examples)
