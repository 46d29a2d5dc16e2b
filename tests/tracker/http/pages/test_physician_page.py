"""The physician's page through the real app: the next sessions first, in the physician's zone
with the zone named, the Join button from 15 minutes before the start to the end (time fixed
with time-machine), a .ics file and a Google Calendar link per session, the personal feed with
subscribe buttons shown again at every visit (a read-only key, not the token), sessions attended
newest first with the reason of every 0-credit row, and a confirmation after saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.factories import create_physician, create_series, occurrences, series_body
from tests.tracker.security_world import hidden_csrf, physician_session
from tracker.db import Database
from tracker.domain.models import Physician

pytestmark = pytest.mark.any_engine

#: Monday 7 December 2026, 12:30 to 13:30 in Paris: 11:30 to 12:30 UTC.
START = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
END = START + timedelta(hours=1)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JOIN_URL = "https://zoom.us/j/81234567890"
TITLE = series_body()["title"]


class Links(HTMLParser):
    """Every link of a page: its text (hidden context included) and its href."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((" ".join(self._text.split()), self._href))
            self._href = None

    def hrefs(self, starting: str) -> list[str]:
        return [href for text, href in self.links if text.startswith(starting)]


async def _world(
    client: TestClient, auth: dict[str, str], **physician: Any
) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """A weekly Paris series from 7 December 2026 with a 75 % minimum, a physician registered to
    it, signed in: (series, physician, cookie, csrf)."""
    series = await create_series(
        client,
        auth,
        start="2026-12-07T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=4;BYDAY=MO",
        min_attendance_percent=75,
        join_url=JOIN_URL,
    )
    created = await create_physician(client, auth, **physician)
    registered = await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": created["id"]},
        headers=auth,
    )
    assert registered.status == 201
    cookie, csrf = await physician_session(client, created["token"])
    return series, created, cookie, csrf


async def _page(client: TestClient, cookie: str, query: str = "") -> str:
    response = await client.get(f"/me{query}", headers={"Cookie": cookie})
    assert response.status == 200, await response.text()
    return await response.text()


def _upcoming(html: str) -> str:
    """The "next sessions" section alone."""
    return html.split('id="upcoming"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize(
    ("now", "badge"),
    [
        (START - timedelta(minutes=16), None),
        (START - timedelta(minutes=14), "commence bientôt"),
        (START + timedelta(minutes=59), "en direct"),
        (END, None),
        (END + timedelta(minutes=1), None),
    ],
)
async def test_the_join_button_shows_from_15_minutes_before_the_start_to_the_end(
    client: TestClient, auth: dict[str, str], now: datetime, badge: str | None
) -> None:
    with time_machine.travel(BEFORE, tick=False) as traveller:
        _, _, cookie, _ = await _world(client, auth)
        traveller.move_to(now)
        html = await _page(client, cookie)

    joins = Links(_upcoming(html)).hrefs("Rejoindre la session")
    badges = [b for b in ("commence bientôt", "en direct") if f"· {b}</strong>" in html]
    assert joins == ([JOIN_URL] if badge else [])
    assert badges == ([badge] if badge else [])


async def test_next_sessions_come_first_in_the_physicians_zone_with_the_zone_named(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, _, cookie, _ = await _world(client, auth, timezone="America/New_York", language="en")
        french = await _page(client, cookie, "?lang=fr")
        english = await _page(client, cookie, "?lang=en")

    assert french.index('id="upcoming"') < french.index('id="totals"')
    assert "lundi 7 décembre 2026 à 06:30 (heure de New York)" in _upcoming(french)
    assert "lundi 28 décembre 2026 à 06:30 (heure de New York)" in _upcoming(french)
    assert "Monday 7 December 2026 at 06:30 (New York time)" in _upcoming(english)
    assert "Le bouton « Rejoindre » apparaît 15 minutes avant le début." in french


async def test_a_physician_in_montreal_reads_montreal_time_not_toronto(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, _, cookie, _ = await _world(client, auth, timezone="America/Montreal")
        french = await _page(client, cookie, "?lang=fr")
        english = await _page(client, cookie, "?lang=en")

    assert "lundi 7 décembre 2026 à 06:30 (heure de Montréal)" in _upcoming(french)
    assert "Monday 7 December 2026 at 06:30 (Montréal time)" in _upcoming(english)
    assert "Toronto" not in french + english


async def test_a_french_physician_reads_paris_time_in_french(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, _, cookie, _ = await _world(client, auth)
        html = await _page(client, cookie)

    assert '<html lang="fr">' in html
    assert "lundi 7 décembre 2026 à 12:30 (heure de Paris)" in _upcoming(html)


async def test_each_session_has_a_calendar_file_and_a_google_calendar_link(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        series, _, cookie, _ = await _world(client, auth)
        first = (await occurrences(client, auth, series["id"]))[0]
        links = Links(_upcoming(await _page(client, cookie)))
        (ics, *_) = links.hrefs("Télécharger (.ics)")
        (google, *_) = links.hrefs("Google Agenda")
        response = await client.get(ics, headers={"Cookie": cookie})
        body = await response.read()

    calendar = Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    query = parse_qs(urlsplit(google).query)
    assert ics == f"/me/occurrences/{first['id']}.ics"
    assert response.status == 200
    assert response.content_type == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    assert calendar["METHOD"] == "PUBLISH"
    assert event.decoded("DTSTART") == START
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Paris"
    assert event.decoded("DTEND") == END
    assert event.decoded("RECURRENCE-ID") == START  # the reminder invitations' event
    assert str(event["URL"]) == JOIN_URL
    assert [c.name for c in calendar.walk("VTIMEZONE")] == ["VTIMEZONE"]
    assert google.startswith("https://calendar.google.com/calendar/render?")
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"] == ["20261207T113000Z/20261207T123000Z"]
    assert query["text"] == [TITLE]
    assert JOIN_URL in query["details"][0] and query["location"] == [JOIN_URL]


async def test_a_session_file_is_only_for_a_physician_registered_to_its_series(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        series, _, cookie, _ = await _world(client, auth)
        first = (await occurrences(client, auth, series["id"]))[0]
        stranger = await create_physician(client, auth, email="autre@example.org")
        other_cookie, _ = await physician_session(client, stranger["token"])
        path = f"/me/occurrences/{first['id']}.ics"
        mine = await client.get(path, headers={"Cookie": cookie})
        theirs = await client.get(path, headers={"Cookie": other_cookie})
        anonymous = await client.get(path)
        unknown = await client.get("/me/occurrences/999999.ics", headers={"Cookie": cookie})

    assert (mine.status, theirs.status, anonymous.status, unknown.status) == (200, 404, 401, 404)
    assert anonymous.content_type == "text/html"


async def test_the_feed_is_shown_again_with_subscribe_buttons_without_a_new_token(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, created, cookie, _ = await _world(client, auth)
        first = Links(await _page(client, cookie))
        again = Links(await _page(client, cookie))
        async with database.session() as session:
            stored = await session.get(Physician, created["id"])
        key = stored.feed_secret if stored else None
        https = f"https://cme.example.org/feeds/{key}.ics"
        feed = await client.get(f"/feeds/{key}.ics")
        old_url = await client.get(f"/feeds/{created['token']}.ics")
        token_still = await client.get(f"/me/{created['token']}", allow_redirects=False)

    (apple,) = first.hrefs("Ajouter au Calendrier Apple")
    (google,) = first.hrefs("Ajouter à Google Agenda")
    (outlook,) = first.hrefs("Ajouter à Outlook")
    assert key is not None and key.startswith("cal_") and created["token"] not in key
    assert first.links == again.links  # the same links at every visit
    assert apple == f"webcal://cme.example.org/feeds/{key}.ics"
    assert parse_qs(urlsplit(google).query) == {"cid": [apple]}
    assert google.startswith("https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2F")
    assert urlsplit(outlook)[:3] == ("https", "outlook.live.com", "/calendar/0/addfromweb")
    assert parse_qs(urlsplit(outlook).query)["url"] == [https]
    assert token_still.status == 303  # showing the feed changed nothing
    assert (feed.status, old_url.status) == (200, 200)  # feed URLs of the token still work
    calendar = Calendar.from_ical(await feed.read())
    assert {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")} == {TITLE}
    assert f'value="{https}"' in await _page(client, cookie)  # the field the copy button copies


async def test_new_links_replace_the_feed_key_too_and_the_page_shows_the_new_one(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, created, cookie, csrf = await _world(client, auth)
        before = Links(await _page(client, cookie)).hrefs("Ajouter au Calendrier Apple")[0]
        old_key = before.rsplit("/", 1)[1].removesuffix(".ics")
        rotated = await client.post(
            "/me/token", data={"csrf": csrf}, headers={"Cookie": cookie}, allow_redirects=False
        )
        new_cookie = f"tracker_session={rotated.cookies['tracker_session'].value}"
        after = Links(await _page(client, new_cookie)).hrefs("Ajouter au Calendrier Apple")[0]
        new_key = after.rsplit("/", 1)[1].removesuffix(".ics")
        old_feed = await client.get(f"/feeds/{old_key}.ics")
        new_feed = await client.get(f"/feeds/{new_key}.ics")
        old_token_feed = await client.get(f"/feeds/{created['token']}.ics")

    assert rotated.status == 200
    assert f"/feeds/{new_key}.ics" in await rotated.text()
    assert old_key != new_key
    assert (old_feed.status, new_feed.status, old_token_feed.status) == (404, 200, 404)


async def _attend(
    client: TestClient,
    auth: dict[str, str],
    occurrence: dict[str, Any],
    physician_id: int,
    minutes: int,
) -> None:
    """A join at the session's start and a leave ``minutes`` later."""
    start = datetime.fromisoformat(occurrence["start"])
    events = [
        {
            "event_id": f"{kind}-{occurrence['id']}-{physician_id}",
            "occurrence_id": occurrence["id"],
            "physician_id": physician_id,
            "kind": kind,
            "at": (start + timedelta(minutes=at)).isoformat(),
        }
        for kind, at in (("join", 0), ("leave", minutes))
    ]
    response = await client.post("/api/attendance-events", json=events, headers=auth)
    assert response.status == 202, await response.text()


@pytest.mark.parametrize(
    ("lang", "days", "threshold", "short", "credit"),
    [
        (
            "fr",
            ("lundi 14 décembre", "jeudi 10 décembre", "lundi 7 décembre"),
            "Présence insuffisante : 20 min de présence, 45 min requises (75\u00a0% de la session).",
            "Départ anticipé : 5 min de présence, trop peu pour un quart d'heure de crédit.",
            "AMA PRA Category 1 Credit(s)™ 0,75",
        ),
        (
            "en",
            ("Monday 14 December", "Thursday 10 December", "Monday 7 December"),
            "Below the minimum attendance: 20 min attended, 45 min needed (75% of the session).",
            "Left early: 5 min attended, too short for a quarter hour of credit.",
            "AMA PRA Category 1 Credit(s)™ 0.75",
        ),
    ],
)
async def test_sessions_attended_come_newest_first_and_a_zero_credit_row_says_why(
    client: TestClient,
    auth: dict[str, str],
    lang: str,
    days: tuple[str, str, str],
    threshold: str,
    short: str,
    credit: str,
) -> None:
    with time_machine.travel(BEFORE, tick=False) as traveller:
        series, created, cookie, _ = await _world(client, auth)
        no_minimum = await create_series(
            client,
            auth,
            title="Les jeudis",
            start="2026-12-10T12:30:00",
            rrule=None,
            join_url=JOIN_URL,
        )
        await client.post(
            f"/api/series/{no_minimum['id']}/registrations",
            json={"physician_id": created["id"]},
            headers=auth,
        )
        mondays = await occurrences(client, auth, series["id"])
        (thursday,) = await occurrences(client, auth, no_minimum["id"])
        traveller.move_to(datetime(2026, 12, 15, 9, 0, tzinfo=UTC))
        await _attend(client, auth, mondays[0], created["id"], 20)  # 7 Dec: 20 of 45 min
        await _attend(client, auth, thursday, created["id"], 5)  # 10 Dec: 5 min
        await _attend(client, auth, mondays[1], created["id"], 45)  # 14 Dec: 0.75 credit
        html = await _page(client, cookie, f"?lang={lang}")

    table = unescape(html.split('id="sessions"', 1)[1].split("</table>", 1)[0])
    rows = table.split("<tr>")[2:]
    assert len(rows) == 3
    assert [day in row for day, row in zip(days, rows, strict=True)] == [True] * 3  # newest first
    assert credit in rows[0] and "note" not in rows[0]
    assert '<span class="cell-label">Minutes' in rows[0]  # a phone shows what 45 counts
    assert short in rows[1]
    assert threshold in rows[2]


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("fr", "Vos préférences de rappels ont été enregistrées."),
        ("en", "Your email preferences have been saved."),
    ],
)
async def test_saving_preferences_redirects_to_the_page_with_a_confirmation(
    client: TestClient, auth: dict[str, str], lang: str, message: str
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        series, _, cookie, csrf = await _world(client, auth)
        cookie += f"; lang={lang}"
        before = await _page(client, cookie)
        saved = await client.post(
            "/me/preferences",
            data={"csrf": csrf, "series": str(series["id"])},
            headers={"Cookie": cookie},
            allow_redirects=False,
        )
        after = await _page(client, cookie, "?saved=1")

    assert saved.status == 303 and saved.headers["Location"] == "/me?saved=1"
    assert message not in before
    assert f'<p class="notice" role="status">{message}</p>' in after
    assert hidden_csrf(after) == csrf


async def test_the_feed_key_opens_the_feed_and_nothing_else(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, created, _, _ = await _world(client, auth)
        async with database.session() as session:
            stored = await session.get(Physician, created["id"])
        key = stored.feed_secret if stored else ""
        answers = {
            "feed": (await client.get(f"/feeds/{key}.ics")).status,
            "personal link": (await client.get(f"/me/{key}", allow_redirects=False)).status,
            "api": (await client.get("/api/me", headers={"Authorization": f"Bearer {key}"})).status,
        }

    assert answers == {"feed": 200, "personal link": 404, "api": 401}


async def test_a_physician_stored_without_a_feed_key_gets_one_when_their_page_opens(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        _, created, cookie, _ = await _world(client, auth)
        async with database.session() as session:
            row = await session.get(Physician, created["id"])
            assert row is not None
            row.feed_secret = None  # as a bulk insert around the ORM leaves it
            session.add(row)
            await session.commit()
        first = Links(await _page(client, cookie)).hrefs("Ajouter au Calendrier Apple")
        second = Links(await _page(client, cookie)).hrefs("Ajouter au Calendrier Apple")
        async with database.session() as session:
            stored = await session.get(Physician, created["id"])

    assert stored is not None and stored.feed_secret is not None
    assert first == second == [f"webcal://cme.example.org/feeds/{stored.feed_secret}.ics"]
