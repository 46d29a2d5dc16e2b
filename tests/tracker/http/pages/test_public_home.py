"""The public home through the real app: a Join button while a session is live (time fixed with
time-machine), the zone on every time, per-session add-to-calendar (.ics parsed with icalendar,
a Google Calendar link), a subscribe button that subscribes (webcal) with the download beside
it, and the credit designation in the page's language."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.factories import create_series, occurrences, series_body
from tests.tracker.http.pages.test_physician_page import BEFORE, END, JOIN_URL, START, Links

pytestmark = pytest.mark.any_engine

TITLE = series_body()["title"]
CREDITS = [{"type": "AMA_PRA_1", "max": 1.0}, {"type": "DPC_HOURS", "max": 1.5}]


async def _series(client: TestClient, auth: dict[str, str], **overrides: object) -> int:
    created = await create_series(
        client,
        auth,
        start="2026-12-07T12:30:00",
        rrule="FREQ=WEEKLY;COUNT=4;BYDAY=MO",
        join_url=JOIN_URL,
        credits=CREDITS,
        **overrides,
    )
    return int(created["id"])


async def _home(client: TestClient, lang: str = "fr") -> str:
    response = await client.get(f"/?lang={lang}")
    assert response.status == 200
    return unescape(await response.text())


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        (START - timedelta(minutes=16), False),
        (START - timedelta(minutes=14), True),
        (START + timedelta(minutes=30), True),
        (END, False),
        (END + timedelta(minutes=1), False),
    ],
)
@pytest.mark.parametrize(
    ("lang", "join"), [("fr", "Rejoindre la session"), ("en", "Join the session")]
)
async def test_the_join_button_shows_while_a_session_is_live(
    client: TestClient, auth: dict[str, str], now: datetime, shown: bool, lang: str, join: str
) -> None:
    with time_machine.travel(BEFORE, tick=False) as traveller:
        await _series(client, auth)
        traveller.move_to(now)
        html = await _home(client, lang)

    assert Links(html).hrefs(join) == ([JOIN_URL] if shown else [])


async def test_every_time_names_its_zone_in_the_page_language(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        await _series(client, auth)
        await _series(client, auth, title="Grand Rounds", timezone="America/New_York")
        french, english = await _home(client, "fr"), await _home(client, "en")

    times = french.split("<time ")[1:]
    assert len(times) == 8
    assert all("(heure de Paris)" in t or "(heure de New York)" in t for t in times)
    assert "lundi 7 décembre 2026 à 12:30 (heure de Paris)" in french
    assert "lundi 7 décembre 2026 à 12:30 (heure de New York)" in french
    assert "Monday 7 December 2026 at 12:30 (Paris time)" in english
    assert "Monday 7 December 2026 at 12:30 (New York time)" in english


async def test_each_session_has_a_calendar_file_and_a_google_calendar_link(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        series_id = await _series(client, auth)
        first = (await occurrences(client, auth, series_id))[0]
        links = Links(await _home(client, "en"))
        ics = links.hrefs("Download (.ics)")
        google = links.hrefs("Google Calendar")
        response = await client.get(ics[0])
        body = await response.read()

    calendar = Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    assert len(ics) == len(google) == 4
    assert ics[0] == f"/occurrences/{first['id']}.ics"
    assert (response.status, response.content_type) == (200, "text/calendar")
    assert str(event["SUMMARY"]) == TITLE
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == END
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Paris"
    assert "AMA PRA Category 1 Credit(s)" in str(event["DESCRIPTION"])
    assert parse_qs(urlsplit(google[0]).query)["dates"] == ["20261207T113000Z/20261207T123000Z"]


async def test_a_session_file_of_a_private_series_or_an_unknown_session_is_not_found(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        private = await _series(client, auth, public=False)
        hidden = (await occurrences(client, auth, private))[0]
        answers = [
            (await client.get(path)).status
            for path in (f"/occurrences/{hidden['id']}.ics", "/occurrences/999999.ics")
        ]
        html = await _home(client)

    assert answers == [404, 404]
    assert TITLE not in html


async def test_subscribe_subscribes_and_the_download_is_the_secondary_link(
    client: TestClient, auth: dict[str, str]
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        await _series(client, auth)
        html = await _home(client, "fr")
        links = Links(html)
        (subscribe,) = links.hrefs("M'abonner dans mon agenda")
        (download,) = links.hrefs("télécharger le fichier .ics")
        feed = await client.get(urlsplit(download).path)

    slug = "les-lundis-de-la-sante-numerique"
    assert subscribe == f"webcal://cme.example.org/series/{slug}.ics"
    assert download == f"https://cme.example.org/series/{slug}.ics"
    assert f'class="button" href="{subscribe}"' in html
    assert f'class="button" href="{download}"' not in html
    assert feed.status == 200
    assert Calendar.from_ical(await feed.read()).walk("VEVENT")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "fr",
            [
                "Institut du Numérique en Santé désigne cette activité en direct pour un maximum "
                "de 1,0 AMA PRA Category 1 Credit(s)™.",
                "Cette session est validée pour 1,5 heure DPC au maximum.",
            ],
        ),
        ("en", ["This session is designated for a maximum of 1.5 DPC hours."]),
    ],
)
async def test_the_designation_statement_is_in_the_page_language(
    client: TestClient, auth: dict[str, str], lang: str, expected: list[str]
) -> None:
    """On the home page and on the series' own page alike (the latter showed the English
    statement alone, unmarked, on a French page)."""
    with time_machine.travel(BEFORE, tick=False):
        series_id = await _series(client, auth)
        home = await _home(client, lang)
        slug = (await (await client.get(f"/api/series/{series_id}", headers=auth)).json())["slug"]
        own = unescape(await (await client.get(f"/series/{slug}?lang={lang}")).text())

    english = (
        "Institut du Numérique en Santé designates this live activity for a maximum of 1.0 "
        "AMA PRA Category 1 Credit(s)™. Physicians should claim only the credit commensurate "
        "with the extent of their participation in the activity."
    )
    for html in (home, own):
        assert all(sentence in html for sentence in expected)
        assert english in html  # the AMA's wording, verbatim, on every page
        if lang == "fr":
            assert (
                f'<p class="muted" lang="en"><span lang="fr">Texte officiel :</span> {english}'
                in html
            )


@pytest.mark.parametrize(("lang", "register"), [("fr", "S’inscrire"), ("en", "Register")])
async def test_a_series_open_to_registration_links_its_page_and_form(
    client: TestClient, auth: dict[str, str], lang: str, register: str
) -> None:
    with time_machine.travel(BEFORE, tick=False):
        await _series(client, auth, registration="open")
        await _series(client, auth, title="Sur invitation", registration="invite")
        html = await _home(client, lang)
        links = Links(html)
        page = await client.get(urlsplit(links.hrefs(TITLE)[0]).path)

    slug = "les-lundis-de-la-sante-numerique"
    assert links.hrefs(TITLE) == [f"/series/{slug}"]
    assert links.hrefs("Sur invitation") == ["/series/sur-invitation"]
    assert links.hrefs(register) == [f"/series/{slug}#selfreg-form"]  # only the open one
    assert page.status == 200 and 'id="selfreg-form"' in await page.text()
