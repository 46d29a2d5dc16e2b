"""The organiser's pages as a browser without JavaScript uses them: read a page, submit its forms
(with their CSRF token), follow the answer. Credit designations survive the series form; cancel
asks first and is never offered, nor accepted, where credits are final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient
from sqlmodel import select

from tests.factories import create_physician, create_series, occurrences
from tracker.db import Database
from tracker.domain.models import Award
from tracker.http.pages import sessions
from tracker.services import web_sessions
from tracker.services.finalisation import finalize
from tracker.services.organizers import create_organizer

pytestmark = pytest.mark.any_engine

CREDITS = [
    {"type": "AMA_PRA_1", "max": 1.0},
    {"type": "DPC_HOURS", "max": 1.5},
    {"type": "ABIM_MOC", "max": 0.75},
]
#: The first Monday session, 12:30 to 13:30 Paris (11:30 to 12:30 UTC), and its moments.
FIRST_START = "2026-11-02T12:30:00"
DURING = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
AFTER_GRACE = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)


class Forms(HTMLParser):
    """Every form of a page: its action and the fields a browser would submit (first button)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str], str | None]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}, a.get("id")))
        elif not self.forms:
            return
        fields = self.forms[-1][1]
        if tag == "input" and "name" in a and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:  # a browser sends a box only when it is ticked
                fields[a["name"]] = a.get("value") or "on"
        elif tag == "input" and "name" in a and a.get("type") != "submit":
            fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1][1][self._textarea] += data

    def by_id(self, form_id: str) -> dict[str, str]:
        return next(dict(fields) for _, fields, fid in self.forms if fid == form_id)

    def actions_for(self, path: str) -> list[str]:
        """The ``action`` field of every form posting to ``path`` (cancel, move, restore)."""
        return [fields.get("action", "") for action, fields, _ in self.forms if action == path]


async def organiser_cookie(database: Database) -> dict[str, str]:
    """A signed-in organiser's browser (the session row and cookie the sign-in page creates)."""
    organizer, _ = await create_organizer(database, name="Camille", email="cam@example.org")
    raw = await web_sessions.sign_in(database, organizer)
    return {"Cookie": f"{sessions.COOKIE}={raw}"}


async def _page(client: TestClient, path: str, cookie: dict[str, str]) -> Forms:
    response = await client.get(path, headers=cookie)
    assert response.status == 200, await response.text()
    return Forms(await response.text())


def _shown_credits(form: dict[str, str]) -> dict[str, float]:
    return {
        name.removeprefix("credit:"): float(value)
        for name, value in form.items()
        if name.startswith("credit:") and value
    }


# Defect 7: the series form keeps every credit designation -------------------------------------


async def test_saving_the_series_form_shows_and_keeps_every_credit_designation(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth, credits=CREDITS)
    cookie = await organiser_cookie(database)
    form = (await _page(client, f"/organizer/series/{created['id']}", cookie)).by_id("series-form")
    form["description"] = "Une heure, chaque lundi. Désormais avec un quiz."

    saved = await client.post(
        f"/organizer/series/{created['id']}", data=form, headers=cookie, allow_redirects=False
    )
    series = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    assert _shown_credits(form) == {"AMA_PRA_1": 1.0, "DPC_HOURS": 1.5, "ABIM_MOC": 0.75}
    assert saved.status == 303, await saved.text()
    assert series["description"] == "Une heure, chaque lundi. Désormais avec un quiz."
    assert sorted(series["credits"], key=lambda c: str(c["type"])) == sorted(
        CREDITS, key=lambda c: str(c["type"])
    )


async def test_series_form_without_a_designation_field_keeps_that_designation(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth, credits=CREDITS)
    cookie = await organiser_cookie(database)
    form = (await _page(client, f"/organizer/series/{created['id']}", cookie)).by_id("series-form")
    form = {k: v for k, v in form.items() if not k.startswith("credit:")}  # an older page
    form["credit:AMA_PRA_1"] = "2"

    saved = await client.post(
        f"/organizer/series/{created['id']}", data=form, headers=cookie, allow_redirects=False
    )
    series = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    assert saved.status == 303, await saved.text()
    assert {c["type"]: c["max"] for c in series["credits"]} == {
        "AMA_PRA_1": 2.0,
        "DPC_HOURS": 1.5,
        "ABIM_MOC": 0.75,
    }


async def test_series_form_field_emptied_removes_that_designation(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth, credits=CREDITS)
    cookie = await organiser_cookie(database)
    form = (await _page(client, f"/organizer/series/{created['id']}", cookie)).by_id("series-form")
    form["credit:ABIM_MOC"] = ""

    await client.post(
        f"/organizer/series/{created['id']}", data=form, headers=cookie, allow_redirects=False
    )
    series = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()

    assert {c["type"]: c["max"] for c in series["credits"]} == {"AMA_PRA_1": 1.0, "DPC_HOURS": 1.5}


async def test_new_series_form_offers_every_credit_type(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)

    form = (await _page(client, "/organizer", cookie)).by_id("series-form")

    assert {k: v for k, v in form.items() if k.startswith("credit:")} == {
        "credit:ABIM_MOC": "",
        "credit:AMA_PRA_1": "1",
        "credit:DPC_HOURS": "",
        "credit:SMC_HOURS": "",  # seeded by migration 0015 (issue 11 point 6)
    }


# Defect 8: no cancel or move that voids final credits; cancel asks first -----------------------


async def _attended_and_final(client: TestClient, auth: dict[str, str], database: Database) -> Any:
    """A weekly series whose first session was attended and whose credits are now final."""
    series = await create_series(
        client, auth, start=FIRST_START, rrule="FREQ=WEEKLY;COUNT=3;BYDAY=MO", credits=CREDITS
    )
    first, second, third = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(client, auth)
    with time_machine.travel(DURING, tick=False):
        posted = await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "j1",
                    "occurrence_id": first["id"],
                    "physician_id": jeanne["id"],
                    "kind": "join",
                    "at": "2026-11-02T11:30:00Z",
                }
            ],
            headers=auth,
        )
        assert posted.status == 202
    assert await finalize(database, first["id"], now=AFTER_GRACE, grace=timedelta(minutes=90))
    return series, first, second, third, jeanne


async def test_api_refuses_to_cancel_or_move_an_occurrence_whose_credits_are_final(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, first, second, _, jeanne = await _attended_and_final(client, auth, database)

    with time_machine.travel(AFTER_GRACE, tick=False):
        answers = []
        for occurrence, change in [
            (first, {"status": "cancelled"}),
            (first, {"start": "2026-11-02T13:00:00"}),
            (first, {"duration_minutes": 30}),
            (second, {"status": "cancelled"}),  # no final credits: allowed
        ]:
            response = await client.patch(
                f"/api/occurrences/{occurrence['id']}", json=change, headers=auth
            )
            answers.append((response.status, response.content_type))
        rows = await occurrences(client, auth, series["id"])
        credits = await (
            await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
        ).json()

    assert answers == [
        (409, "application/problem+json"),
        (409, "application/problem+json"),
        (409, "application/problem+json"),
        (200, "application/json"),
    ]
    assert [(r["status"], r["start"]) for r in rows[:2]] == [
        ("scheduled", first["start"]),
        ("cancelled", second["start"]),
    ]
    assert [(a["final"], a["credits"]) for a in credits["awards"]] == [
        (True, {"AMA_PRA_1": 1.0, "DPC_HOURS": 1.0, "ABIM_MOC": 0.75})
    ]


async def test_a_series_edit_that_would_move_a_session_whose_credits_are_final_is_refused(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """The occurrence route refused to move it; a series edit moved it anyway, and a late event
    then recomputed its final award to nothing against the new window."""
    series, first, _, _, jeanne = await _attended_and_final(client, auth, database)

    with time_machine.travel(AFTER_GRACE, tick=False):
        answers = []
        for change in [
            {"duration_minutes": 30},
            {"start": "2026-11-02T13:30:00"},
            {"timezone": "America/New_York"},
            {"title": "Renamed"},  # the sessions keep their windows: allowed
        ]:
            response = await client.patch(f"/api/series/{series['id']}", json=change, headers=auth)
            answers.append(response.status)
        rows = await occurrences(client, auth, series["id"])
        credits = await (
            await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
        ).json()

    assert answers == [409, 409, 409, 200]
    assert (rows[0]["start"], rows[0]["end"]) == (first["start"], first["end"])
    assert [(a["final"], a["minutes"]) for a in credits["awards"]] == [(True, 60.0)]


async def test_a_series_edit_recomputes_the_stored_awards_of_the_sessions_it_moves(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Readers bring a provisional award up to their own now; the stored row follows the edit
    too, for the exports and the finalisation that read it as it is."""
    series = await create_series(
        client, auth, start=FIRST_START, rrule="FREQ=WEEKLY;COUNT=3;BYDAY=MO", credits=CREDITS
    )
    first, *_ = await occurrences(client, auth, series["id"])
    jeanne = await create_physician(client, auth)
    with time_machine.travel(DURING, tick=False):
        await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": "j",
                    "occurrence_id": first["id"],
                    "physician_id": jeanne["id"],
                    "kind": "join",
                    "at": "2026-11-02T11:30:00Z",
                },
                {
                    "event_id": "l",
                    "occurrence_id": first["id"],
                    "physician_id": jeanne["id"],
                    "kind": "leave",
                    "at": "2026-11-02T12:00:00Z",
                },
            ],
            headers=auth,
        )
    with time_machine.travel(DURING + timedelta(minutes=30), tick=False):
        before = await (
            await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
        ).json()
        edited = await client.patch(  # 12:30 Paris becomes 11:45: the session ends at 10:45 UTC
            f"/api/series/{series['id']}", json={"start": "2026-11-02T11:45:00"}, headers=auth
        )
        after = await (
            await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
        ).json()
    async with database.session() as session:
        stored = (await session.exec(select(Award.seconds))).all()

    assert edited.status == 200
    assert [a["minutes"] for a in before["awards"]] == [30.0]
    assert [a["minutes"] for a in after["awards"]] == [15.0]  # 11:30-11:45 UTC of her half hour
    assert stored == [15 * 60]


async def test_api_conflict_explains_why(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    _, first, *_ = await _attended_and_final(client, auth, database)

    response = await client.patch(
        f"/api/occurrences/{first['id']}", json={"status": "cancelled"}, headers=auth
    )

    assert response.status == 409
    assert "final" in (await response.json())["detail"]


async def test_series_page_offers_no_cancel_or_move_where_credits_are_final(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, first, second, *_ = await _attended_and_final(client, auth, database)
    cookie = await organiser_cookie(database)

    with time_machine.travel(AFTER_GRACE, tick=False):
        forms = await _page(client, f"/organizer/series/{series['id']}", cookie)

    assert forms.actions_for(f"/organizer/occurrences/{first['id']}") == []
    assert forms.actions_for(f"/organizer/occurrences/{second['id']}") == ["cancel", "move"]


async def test_page_refuses_a_forged_cancel_where_credits_are_final(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, first, *_ = await _attended_and_final(client, auth, database)
    cookie = await organiser_cookie(database)
    with time_machine.travel(AFTER_GRACE, tick=False):
        csrf = (await _page(client, f"/organizer/series/{series['id']}", cookie)).by_id(
            "series-form"
        )["csrf"]

        response = await client.post(
            f"/organizer/occurrences/{first['id']}",
            data={"csrf": csrf, "action": "cancel", "confirm": "yes"},
            headers=cookie,
            allow_redirects=False,
        )
        rows = await occurrences(client, auth, series["id"])

    assert response.status == 409
    assert rows[0]["status"] == "scheduled"


async def test_cancel_on_the_page_asks_for_confirmation_first(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, _, second, *_ = await _attended_and_final(client, auth, database)
    cookie = await organiser_cookie(database)
    path = f"/organizer/occurrences/{second['id']}"

    with time_machine.travel(AFTER_GRACE, tick=False):
        forms = await _page(client, f"/organizer/series/{series['id']}", cookie)
        (cancel,) = [f for a, f, _ in forms.forms if a == path and f.get("action") == "cancel"]
        asked = await client.post(path, data=cancel, headers=cookie, allow_redirects=False)
        confirm = Forms(await asked.text())
        still = (await occurrences(client, auth, series["id"]))[1]["status"]
        (yes,) = [f for a, f, _ in confirm.forms if a == path]
        done = await client.post(path, data=yes, headers=cookie, allow_redirects=False)
        after = (await occurrences(client, auth, series["id"]))[1]["status"]

    assert (asked.status, still) == (200, "scheduled")
    assert yes == {"csrf": cancel["csrf"], "action": "cancel", "confirm": "yes"}
    assert (done.status, done.headers["Location"]) == (
        303,
        f"/organizer/series/{series['id']}#occurrence-{second['id']}",
    )
    assert after == "cancelled"


async def _series_csrf(client: TestClient, series: Any, cookie: dict[str, str]) -> str:
    forms = await _page(client, f"/organizer/series/{series['id']}", cookie)
    return forms.by_id("series-form")["csrf"]


@pytest.mark.parametrize(
    ("form", "lang"),
    [
        ({"action": "cancel"}, "fr"),
        ({"action": "cancel"}, "en"),
        ({"action": "move", "start": "2026-11-02T13:00"}, "fr"),
    ],
)
async def test_forged_cancel_or_move_of_final_credits_is_refused_before_any_confirmation(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    form: dict[str, str],
    lang: str,
) -> None:
    series, first, *_ = await _attended_and_final(client, auth, database)
    cookie = {**await organiser_cookie(database), "Accept-Language": lang}
    with time_machine.travel(AFTER_GRACE, tick=False):
        csrf = await _series_csrf(client, series, cookie)

        response = await client.post(
            f"/organizer/occurrences/{first['id']}",
            data={"csrf": csrf, **form},
            headers={**cookie, "Accept": "text/html"},
            allow_redirects=False,
        )
        html = await response.text()
        rows = await occurrences(client, auth, series["id"])

    refusal = {
        "fr": "Les crédits de cette session sont définitifs",
        "en": "The credits of this session are final",
    }
    assert (response.status, response.content_type) == (409, "text/html")
    assert f'lang="{lang}"' in html
    assert refusal[lang] in html
    assert Forms(html).actions_for(f"/organizer/occurrences/{first['id']}") == []  # no "confirm"
    assert (rows[0]["status"], rows[0]["start"]) == ("scheduled", first["start"])


async def test_forged_cancel_of_final_credits_answers_a_json_client_with_a_problem(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series, first, *_ = await _attended_and_final(client, auth, database)
    cookie = await organiser_cookie(database)
    with time_machine.travel(AFTER_GRACE, tick=False):
        csrf = await _series_csrf(client, series, cookie)

        response = await client.post(
            f"/organizer/occurrences/{first['id']}",
            data={"csrf": csrf, "action": "cancel"},
            headers={**cookie, "Accept": "application/json"},
            allow_redirects=False,
        )
        body = await response.json(content_type="application/problem+json")

    assert (response.status, response.content_type) == (409, "application/problem+json")
    assert body["status"] == 409
    assert "final" in body["detail"]
