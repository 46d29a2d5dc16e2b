"""The organiser console without JavaScript (issue 12): the recurrence picker makes the rule,
errors stand next to their field in the page's language, sign-out, and every session of a long
series is reachable a page at a time with its counts."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from notifications.models import OutboxMessage
from tests.conftest import ENGINES
from tests.factories import create_physician, create_series, occurrences
from tests.tracker.http.pages.test_organiser_pages import (
    AFTER_GRACE,
    Forms,
    _attended_and_final,
    organiser_cookie,
)
from tracker.db import Database

pytestmark = pytest.mark.any_engine

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _new_series_form(
    client: TestClient, cookie: dict[str, str], lang: str = "fr"
) -> dict[str, str]:
    response = await client.get(f"/organizer?lang={lang}", headers=cookie)
    assert response.status == 200
    return Forms(await response.text()).by_id("series-form")


def _error_next_to(html: str, field_id: str) -> str:
    """The text of the error paragraph the field points at (``aria-describedby``)."""
    field = re.search(
        rf'<(?:input|select|textarea|fieldset)[^>]*\bid="{re.escape(field_id)}"[^>]*>', html
    )
    assert field is not None, field_id
    assert 'aria-invalid="true"' in field.group(0), field.group(0)
    error = re.search(
        rf'<p class="error field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html
    )
    assert error is not None, f"no error next to {field_id}"
    return html_lib.unescape(error.group(1))


async def test_every_second_tuesday_until_june_through_the_picker_without_javascript(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        form = await _new_series_form(client, cookie)
        form |= {
            "title": "Les mardis de la cardiologie",
            "timezone": "Europe/Paris",
            "start": "2027-01-12T18:00",
            "join_url": "https://zoom.us/j/81234567890",
            "repeat": "monthly_nth",
            "setpos": "2",
            "setday": "TU",
            "ends": "until",
            "until": "2027-06-30",
            "credit:DPC_HOURS": "1.5",
            "reminder:P2D": "1",
            "registration": "open",
            "capacity": "300",
        }
        created = await client.post(
            "/organizer/series", data=form, headers=cookie, allow_redirects=False
        )
        assert created.status == 303, await created.text()
        series_id = int(created.headers["Location"].rsplit("/", 1)[1])
        series = await (await client.get(f"/api/series/{series_id}", headers=auth)).json()
        rows = await occurrences(client, auth, series_id)
        edit = await client.get(f"/organizer/series/{series_id}", headers=cookie)
        shown = Forms(await edit.text()).by_id("series-form")

    assert series["rrule"] == "FREQ=MONTHLY;UNTIL=20270630T215959Z;BYDAY=2TU"
    assert [r["start"][:16] for r in rows] == [
        "2027-01-12T17:00",
        "2027-02-09T17:00",
        "2027-03-09T17:00",
        "2027-04-13T16:00",
        "2027-05-11T16:00",
        "2027-06-08T16:00",
    ]
    assert sorted(series["reminders"]) == sorted(["P1D", "PT1H", "P2D"])
    assert {c["type"]: c["max"] for c in series["credits"]} == {"AMA_PRA_1": 1.0, "DPC_HOURS": 1.5}
    assert (series["registration"], series["capacity"]) == ("open", 300)
    assert {k: shown[k] for k in ("repeat", "setpos", "setday", "ends", "until")} == {
        "repeat": "monthly_nth",
        "setpos": "2",
        "setday": "TU",
        "ends": "until",
        "until": "2027-06-30",
    }


async def test_weekly_on_chosen_days_every_other_week_and_after_n(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        form = await _new_series_form(client, cookie)
        form |= {
            "title": "Deux fois par semaine",
            "start": "2027-01-04T12:30",
            "join_url": "https://zoom.us/j/81234567890",
            "repeat": "weekly",
            "day:MO": "1",
            "day:TH": "1",
            "interval": "2",
            "ends": "count",
            "count": "4",
        }
        created = await client.post(
            "/organizer/series", data=form, headers=cookie, allow_redirects=False
        )
        assert created.status == 303, await created.text()
        rows = await occurrences(client, auth, int(created.headers["Location"].rsplit("/", 1)[1]))

    assert [r["start"][:10] for r in rows] == [
        "2027-01-04",
        "2027-01-07",
        "2027-01-18",
        "2027-01-21",
    ]


@pytest.mark.parametrize(
    ("lang", "changes", "field_id", "expected"),
    [
        (
            "fr",
            {"timezone": "Mars/Olympus_Mons"},
            "timezone",
            "Choisissez un fuseau horaire dans la liste",
        ),
        ("en", {"timezone": "Europe/Pariss"}, "timezone", "Choose a timezone from the list"),
        ("fr", {"credit:AMA_PRA_1": "1.1"}, "credit-AMA_PRA_1", "par quarts"),
        ("en", {"credit:AMA_PRA_1": "lots"}, "credit-AMA_PRA_1", "in quarters"),
        ("en", {"credit:AMA_PRA_1": "1e0"}, "credit-AMA_PRA_1", "in quarters"),  # float() reads it
        ("fr", {"credit:AMA_PRA_1": "\u0661"}, "credit-AMA_PRA_1", "par quarts"),  # Arabic-Indic 1
        ("en", {"min_attendance_percent": "5_0"}, "min_attendance_percent", "percentage from 0"),
        ("fr", {"min_attendance_percent": "inf"}, "min_attendance_percent", "pourcentage de 0"),
        ("fr", {"repeat": "daily", "interval": "\u0662"}, "interval", "de 1 à 99"),
        ("en", {"repeat": "daily", "interval": "1_0"}, "interval", "from 1 to 99"),
        ("fr", {"join_url": "javascript:alert(1)"}, "join_url", "https://"),
        ("fr", {"repeat": "daily", "interval": "0"}, "interval", "de 1 à 99"),
        (
            "en",
            {"repeat": "daily", "ends": "until", "until": "2026-01-01"},
            "until",
            "before the first start",
        ),
        ("fr", {"repeat": "custom", "rrule": "FREQ=HOURLY"}, "rrule", "n'est pas acceptée"),
        ("en", {"capacity": "0"}, "capacity", "seats from 1"),
        ("fr", {"title": "x" * 5000}, "title", "Donnez un titre"),
    ],
)
async def test_a_refused_form_says_why_next_to_the_field_in_the_page_language(
    client: TestClient,
    database: Database,
    lang: str,
    changes: dict[str, str],
    field_id: str,
    expected: str,
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        form = await _new_series_form(client, cookie, lang)
        form |= {
            "title": "Une série",
            "start": "2027-01-04T12:30",
            "join_url": "https://zoom.us/j/81234567890",
            **changes,
        }
        refused = await client.post(f"/organizer/series?lang={lang}", data=form, headers=cookie)
        html = await refused.text()

    assert refused.status == 422
    assert expected in _error_next_to(html, field_id)
    assert "Value error" not in html and "Input should" not in html
    assert Forms(html).by_id("series-form")["title"] == changes.get("title", "Une série")


async def test_the_timezone_is_chosen_from_every_zone_of_the_installation(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)
    html = await (await client.get("/organizer", headers=cookie)).text()

    zones = re.findall(r'<option value="([^"]+)"></option>', html)
    assert 'list="timezone-list"' in html
    assert {"Europe/Paris", "America/New_York", "Pacific/Chatham", "UTC"} <= set(zones)
    assert len(zones) > 400
    assert not {"Factory", "localtime", "posixrules"} & set(zones)  # no place's time


async def test_the_preview_answers_the_dates_and_the_rule_of_the_picker(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        answer = await client.get(
            "/organizer/preview",
            params={
                "lang": "en",
                "timezone": "Europe/Paris",
                "start": "2027-01-12T18:00",
                "repeat": "monthly_nth",
                "setpos": "2",
                "setday": "TU",
                "ends": "until",
                "until": "2027-06-30",
            },
            headers=cookie,
        )
        bad = await client.get(
            "/organizer/preview",
            params={
                "lang": "fr",
                "timezone": "Europe/Paris",
                "start": "2027-01-12T18:00",
                "repeat": "weekly",
                "interval": "0",
            },
            headers=cookie,
        )
    body, refused = await answer.json(), await bad.json()

    assert body["rule"] == "FREQ=MONTHLY;BYDAY=2TU;UNTIL=20270630"
    assert len(body["lines"]) == 6 and body["lines"][-1] == "on Tuesday 8 June 2027 at 18:00"
    assert refused["lines"] == ["Erreur\u00a0: Donnez un nombre entier de 1 à 99."]


async def test_sign_out_needs_the_form_token_and_ends_the_session(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)
    html = await (await client.get("/organizer/physicians", headers=cookie)).text()
    (fields,) = [f for action, f, _ in Forms(html).forms if action == "/organizer/signout"]

    forged = await client.post("/organizer/signout", data={}, headers=cookie, allow_redirects=False)
    out = await client.post(
        "/organizer/signout", data=fields, headers=cookie, allow_redirects=False
    )
    after = await client.get("/organizer", headers=cookie, allow_redirects=False)

    assert forged.status == 403
    assert (out.status, out.headers["Location"]) == (303, "/organizer/login")
    assert (after.status, after.headers["Location"]) == (303, "/organizer/login")


@pytest.mark.parametrize(
    "path",
    [
        "/organizer",
        "/organizer/physicians",
        "/organizer/import",
        "/organizer/unmatched",
        "/organizer/exports",
        "/organizer/outbox",
    ],
)
async def test_the_menu_reaches_every_organiser_page(
    client: TestClient, database: Database, path: str
) -> None:
    cookie = await organiser_cookie(database)
    html = await (await client.get(path, headers=cookie)).text()
    menu = html[
        html.index('class="org-menu"') : html.index("</nav>", html.index('class="org-menu"'))
    ]

    assert re.findall(r'href="([^"]+)"', menu) == [
        "/organizer",
        "/organizer/physicians",
        "/organizer/import",
        "/organizer/unmatched",
        "/organizer/exports",
        "/organizer/outbox",
    ]
    assert 'action="/organizer/signout"' in menu


async def test_every_session_of_a_long_series_is_reachable_a_page_at_a_time_and_by_date(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        series = await create_series(
            client, auth, start="2027-01-04T12:30:00", rrule="FREQ=DAILY;COUNT=120"
        )
        path = f"/organizer/series/{series['id']}"
        seen: list[str] = []
        link: str | None = path
        while link:
            html = await (await client.get(link, headers=cookie)).text()
            seen += re.findall(r'<tr id="occurrence-(\d+)">', html)
            following = re.search(r'<a href="([^"]+)" rel="next">', html)
            link = following.group(1).replace("&amp;", "&") if following else None
        dated = await (
            await client.get(f"{path}?from=2027-03-01&to=2027-03-03", headers=cookie)
        ).text()
        bad = await (await client.get(f"{path}?from=yesterday&lang=fr", headers=cookie)).text()

    assert len(seen) == len(set(seen)) == 120
    assert len(re.findall(r'<tr id="occurrence-', dated)) == 3
    assert "année-mois-jour" in bad


@pytest.mark.parametrize(
    ("first_start", "asked", "local_days"),
    [
        # Paris goes from UTC+1 to UTC+2 on 28 March 2027 at 02:00
        ("2027-03-25T00:30:00", "from=2027-03-27&to=2027-03-29", ["27", "28", "29"]),
        # and back to UTC+1 on 31 October 2027 at 03:00
        ("2027-10-28T00:30:00", "from=2027-10-30&to=2027-10-31", ["30", "31"]),
        ("2027-10-28T23:30:00", "from=2027-10-31&to=2027-10-31", ["31"]),
    ],
)
async def test_series_page_date_filter_reads_the_series_days_across_a_dst_change(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    first_start: str,
    asked: str,
    local_days: list[str],
) -> None:
    cookie = await organiser_cookie(database)
    with time_machine.travel(NOW, tick=False):
        series = await create_series(
            client, auth, start=first_start, timezone="Europe/Paris", rrule="FREQ=DAILY;COUNT=8"
        )
        rows = await occurrences(client, auth, series["id"])
        html = await (
            await client.get(f"/organizer/series/{series['id']}?{asked}", headers=cookie)
        ).text()

    paris = ZoneInfo("Europe/Paris")
    local_day = {
        str(r["id"]): datetime.fromisoformat(r["start"]).astimezone(paris).strftime("%d")
        for r in rows
    }
    shown = re.findall(r'<tr id="occurrence-(\d+)">', html)
    assert [local_day[i] for i in shown] == local_days


#: grouped queries: both engines
@pytest.mark.parametrize("database_url", ENGINES, indirect=True)
async def test_final_sessions_refuse_cancel_in_the_page_language_and_counts_show(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, first, *_, jeanne = await _attended_and_final(client, auth, database)
    registered = await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": jeanne["id"]},
        headers=auth,
    )
    assert registered.status == 201
    cookie = await organiser_cookie(database)
    with time_machine.travel(AFTER_GRACE, tick=False):
        html = await (
            await client.get(f"/organizer/series/{series['id']}?lang=fr", headers=cookie)
        ).text()
        csrf = Forms(html).by_id("series-form")["csrf"]
        refused = await client.post(
            f"/organizer/occurrences/{first['id']}?lang=fr",
            data={"csrf": csrf, "action": "move", "start": "2026-11-03T12:30"},
            headers=cookie,
        )

    row = re.search(rf'<tr id="occurrence-{first["id"]}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells: list[Any] = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert [re.sub(r"<[^>]+>[^<]*</span>", "", c).strip() for c in cells[2:4]] == ["1", "1"]
    assert refused.status == 409
    assert "définitifs" in await refused.text()


#: grouped queries: both engines
@pytest.mark.parametrize("database_url", ENGINES, indirect=True)
async def test_the_outbox_counts_by_status_and_retries_every_failed_row_at_once(
    client: TestClient, database: Database
) -> None:
    async with database.session() as session:
        for index in range(60):
            session.add(
                OutboxMessage(
                    key=f"k{index}",
                    kind="certificate" if index % 2 else "reminder",
                    recipient=f"r{index}@example.org",
                    subject=f"S{index:03d}",
                    message_id=f"<{index}@x>",
                    raw=b"x",
                    status="failed" if index % 10 == 0 else "sent",
                )
            )
        await session.commit()
    cookie = await organiser_cookie(database)

    html = await (await client.get("/organizer/outbox?lang=fr", headers=cookie)).text()
    reminders = await (
        await client.get("/organizer/outbox?lang=fr&kind=reminder", headers=cookie)
    ).text()
    (retry,) = [f for a, f, _ in Forms(reminders).forms if a == "/organizer/outbox/retry-failed"]
    done = await client.post(
        "/organizer/outbox/retry-failed", data=retry, headers=cookie, allow_redirects=False
    )
    after = await (await client.get(done.headers["Location"] + "&lang=fr", headers=cookie)).text()

    assert "en échec\u00a0: 6</a>" in html
    assert "envoyés\u00a0: 54</a>" in html
    # each row's kind and status in the page's language, not the stored words
    assert "<td>attestation</td>" in html and "<td>rappel</td>" in html
    assert "<td>certificate</td>" not in html and "<td>sent</td>" not in html
    assert '<option value="certificate">attestation</option>' in html
    assert retry["kind"] == "reminder"
    assert "Renvoyer les 6 courriels en échec" in reminders
    assert done.status == 303
    assert "6 courriels en échec seront renvoyés." in after
    assert "en échec\u00a0: 0</a>" in after


#: grouped queries: both engines
@pytest.mark.parametrize("database_url", ENGINES, indirect=True)
async def test_unmatched_events_are_grouped_per_person_and_session_matched_or_dismissed_at_once(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth, start="2026-11-02T12:30:00", rrule=None)
    first = (await occurrences(client, auth, series["id"]))[0]
    events = [
        {
            "event_id": f"u{i}",
            "occurrence_id": first["id"],
            "email": "j.durand@clinique.example.org",
            "kind": kind,
            "at": at,
        }
        for i, (kind, at) in enumerate(
            [
                ("join", "2026-11-02T11:30:00Z"),
                ("leave", "2026-11-02T11:50:00Z"),
                ("join", "2026-11-02T11:55:00Z"),
                ("leave", "2026-11-02T12:30:00Z"),
            ]
        )
    ] + [
        {
            "event_id": "g1",
            "occurrence_id": first["id"],
            "email": "guest@elsewhere.org",
            "kind": "join",
            "at": "2026-11-02T11:31:00Z",
        }
    ]
    with time_machine.travel(datetime(2026, 11, 2, 13, 0, tzinfo=UTC), tick=False):
        posted = await client.post("/api/attendance-events", json=events, headers=auth)
        assert posted.status == 202, await posted.text()
        jeanne = await create_physician(client, auth, email="jeanne@example.org", npi=None)
        cookie = await organiser_cookie(database)
        html = await (await client.get("/organizer/unmatched?lang=fr", headers=cookie)).text()
        english = await (await client.get("/organizer/unmatched?lang=en", headers=cookie)).text()
        # why, in the page's language
        assert "aucun médecin avec l'adresse guest@elsewhere.org" in unescape(html)
        assert "no physician with email" not in html
        assert "no physician with the address guest@elsewhere.org" in unescape(english)
        # times in the series' zone, named (they were UTC, unnamed, where every other page
        # said 12:30 Paris time)
        assert "lundi 2 novembre 2026 à 12:30 (heure de Paris)" in unescape(html)
        assert "11:30" not in html
        forms = [f for a, f, _ in Forms(html).forms if a == "/organizer/unmatched/group"]
        match = next(f for f in forms if f["action"] == "match" and f["who"].startswith("j.durand"))
        dismiss = next(
            f for f in forms if f["action"] == "dismiss" and f["who"].startswith("guest")
        )
        nobody = await client.post(
            "/organizer/unmatched/group?lang=fr",
            data={**match, "email": "x@example.org"},
            headers=cookie,
        )
        matched = await client.post(
            "/organizer/unmatched/group",
            data={**match, "email": "jeanne@example.org"},
            headers=cookie,
            allow_redirects=False,
        )
        dismissed = await client.post(
            "/organizer/unmatched/group", data=dismiss, headers=cookie, allow_redirects=False
        )
        after = await (await client.get("/organizer/unmatched", headers=cookie)).text()
        api = await (await client.get("/api/attendance-events/unmatched", headers=auth)).json()
        attendance = await (
            await client.get(f"/api/occurrences/{first['id']}/attendance", headers=auth)
        ).json()

    assert html.count('<tr id="g') == 2 and ">4</td>" in html.replace("</span>", "</span>")
    assert (
        nobody.status == 422
        and "Aucun médecin n&#39;a l&#39;adresse x@example.org" in await nobody.text()
    )
    assert (matched.status, dismissed.status) == (303, 303)
    assert '<tr id="g' not in after
    assert [e["email"] for e in api["items"]] == ["guest@elsewhere.org"]  # dismissed, still a fact
    (row,) = attendance["items"]
    assert row["physician_id"] == jeanne["id"] and row["minutes"] == 55


async def test_the_series_page_names_the_zone_of_its_session_times(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """A Paris organiser reading a Montréal series: every time says whose it is."""
    series = await create_series(
        client, auth, timezone="America/Montreal", start="2027-03-01T18:00:00"
    )
    cookie = await organiser_cookie(database)

    french = unescape(
        await (await client.get(f"/organizer/series/{series['id']}?lang=fr", headers=cookie)).text()
    )
    english = unescape(
        await (await client.get(f"/organizer/series/{series['id']}?lang=en", headers=cookie)).text()
    )

    assert "le lundi 1er mars 2027 à 18:00 (heure de Montréal)" in french
    assert "Nouveau début (heure de Montréal)" in french
    assert "on Monday 1 March 2027 at 18:00 (Montréal time)" in english
    assert "New start (Montréal time)" in english
