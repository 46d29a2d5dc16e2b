"""The organiser's list pages stay usable with a large programme: a page of 50 with next and
previous links that carry the cursor, a search box, labels in French and English."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

from aiohttp.test_utils import TestClient

from notifications.models import OutboxMessage
from schedules.models import Occurrence
from tests.factories import create_series, occurrences
from tests.tracker.http.api.test_paging import NOW, _physician_row, add_awards, add_physicians
from tests.tracker.http.pages.test_organiser_pages import organiser_cookie
from tracker.db import Database
from tracker.domain.models import AttendanceEvent
from tracker.domain.presence import connected_per_minute


class Page(HTMLParser):
    """The rows of a page's table, its links by ``rel`` and its search form's fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: dict[str, str] = {}
        self.search: dict[str, str] = {}
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "a" and a.get("rel"):
            self.links[a["rel"]] = unescape(a["href"])
        elif tag == "input" and a.get("type") == "search":
            self.search[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


async def _get(client: TestClient, path: str, cookie: dict[str, str], **params: str) -> Page:
    response = await client.get(path, params=params, headers=cookie)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/html"
    return Page(await response.text())


async def test_physicians_page_of_2000_shows_50_and_a_next_link_and_finds_one_by_name(
    client: TestClient, database: Database
) -> None:
    rows = [_physician_row(i, "Anne", f"Lambert{i:04d}") for i in range(2000)]
    rows[1234].update(first_name="Hélène", last_name="Lefèvre-Dubois")
    await add_physicians(database, rows)
    cookie = await organiser_cookie(database)

    first = await _get(client, "/organizer/physicians", cookie)
    second = await _get(client, first.links["next"], cookie)
    back = await _get(client, second.links["prev"], cookie)
    found = await _get(client, "/organizer/physicians", cookie, q="helene lefevre")

    assert len(first.rows) == 50
    assert "prev" not in first.links
    assert [r[0] for r in second.rows] == [f"Anne Lambert{i:04d}" for i in range(50, 100)]
    assert back.rows == first.rows
    assert [r[0] for r in found.rows] == ["Hélène Lefèvre-Dubois"]
    assert found.search == {"q": "helene lefevre"}
    assert found.links == {}


async def test_next_link_keeps_the_search(client: TestClient, database: Database) -> None:
    await add_physicians(
        database, [_physician_row(i, "Chloé" if i % 2 else "Marc", f"N{i:03d}") for i in range(130)]
    )
    cookie = await organiser_cookie(database)

    first = await _get(client, "/organizer/physicians", cookie, q="chloe")
    second = await _get(client, first.links["next"], cookie)

    assert "q=chloe" in first.links["next"]
    assert [r[0] for r in first.rows + second.rows] == [
        f"Chloé N{i:03d}" for i in range(1, 130, 2)
    ][:100]
    assert second.search == {"q": "chloe"}


async def test_list_pages_speak_french_and_english(client: TestClient, database: Database) -> None:
    await add_physicians(database, [_physician_row(i) for i in range(60)])
    cookie = await organiser_cookie(database)

    french = await client.get("/organizer/physicians", params={"lang": "fr"}, headers=cookie)
    english = await client.get("/organizer/physicians", params={"lang": "en"}, headers=cookie)
    french_text, english_text = await french.text(), await english.text()

    assert "Page suivante" in french_text
    assert "Rechercher par nom, courriel" in french_text
    assert '<html lang="fr">' in french_text
    assert "Next page" in english_text
    assert "Search by name, email" in english_text


async def test_a_bad_cursor_on_a_page_answers_a_page(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)

    response = await client.get(
        "/organizer/physicians", params={"cursor": "garbage"}, headers=cookie
    )

    assert response.status == 400
    assert response.content_type == "text/html"


async def test_attendance_page_of_1500_attendees_is_paged_and_searchable(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth)
    occurrence_id = (await occurrences(client, auth, series["id"]))[0]["id"]
    rows = [_physician_row(i, "Jean", f"A{i:04d}") for i in range(1500)]
    rows[777].update(first_name="Zoé", last_name="Éluard")
    ids = await add_physicians(database, rows)
    await add_awards(database, occurrence_id, ids, seconds=3600, credits={"AMA_PRA_1": 1.0})
    cookie = await organiser_cookie(database)
    path = f"/organizer/occurrences/{occurrence_id}"

    response = await client.get(path, headers=cookie)
    first = Page(await response.text())
    found = await _get(client, path, cookie, q="eluard")

    assert len(first.rows) == 50
    assert first.rows[0][0] == "Jean A0000 p00000@example.org"
    assert "next" in first.links
    assert len(await response.read()) < 120_000
    assert [r[0] for r in found.rows] == ["Zoé Éluard p00777@example.org"]


async def test_unmatched_page_is_paged_and_searched_by_email(
    client: TestClient, database: Database
) -> None:
    async with database.session() as session:
        for index in range(75):
            session.add(
                AttendanceEvent(
                    source="api",
                    external_id=f"e{index}",
                    kind="join",
                    at=NOW,
                    email=f"guest{index:02d}@elsewhere.org",
                    payload={},
                )
            )
        await session.commit()
    cookie = await organiser_cookie(database)

    first = await _get(client, "/organizer/unmatched", cookie)
    second = await _get(client, first.links["next"], cookie)
    found = await _get(client, "/organizer/unmatched", cookie, q="GUEST42")

    assert (len(first.rows), len(second.rows)) == (50, 25)
    assert [r[0] for r in found.rows] == ["guest42@elsewhere.org"]  # grouped per person (issue 12)


async def test_outbox_page_is_paged_and_filtered(client: TestClient, database: Database) -> None:
    async with database.session() as session:
        for index in range(120):
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

    first = await _get(client, "/organizer/outbox", cookie)
    failed = await _get(client, "/organizer/outbox", cookie, status="failed", kind="reminder")
    html = await (
        await client.get("/organizer/outbox", params={"status": "failed"}, headers=cookie)
    ).text()

    assert [r[2] for r in first.rows] == [f"S{i:03d}" for i in range(119, 69, -1)]
    assert [r[2] for r in failed.rows] == [f"S{i:03d}" for i in range(110, -1, -10)]
    assert failed.links == {}
    assert re.search(r'<option value="failed" selected>', html)


async def test_the_chart_counts_each_minute_those_connected_at_its_middle(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth)
    occurrence_id = (await occurrences(client, auth, series["id"]))[0]["id"]
    ids = await add_physicians(database, [_physician_row(i) for i in range(3)])
    async with database.session() as session:
        occurrence = await session.get_one(Occurrence, occurrence_id)
        start = occurrence.start
        facts = [
            (ids[0], "join", start - timedelta(minutes=5)),
            (ids[0], "leave", start + timedelta(minutes=10)),
            (ids[1], "join", start + timedelta(minutes=5, seconds=31)),  # after minute 5's middle
            (ids[2], "join", start + timedelta(minutes=20)),
            (ids[2], "leave", start + timedelta(minutes=20, seconds=20)),  # no middle inside
        ]
        for index, (pid, kind, at) in enumerate(facts):
            session.add(
                AttendanceEvent(
                    source="api",
                    external_id=f"c{index}",
                    kind=kind,
                    at=at,
                    occurrence_id=occurrence_id,
                    physician_id=pid,
                    payload={},
                )
            )
        await session.commit()
        counts = await connected_per_minute(
            session, occurrence, now=occurrence.end + timedelta(hours=1)
        )

    assert counts == [int(m < 10) + int(m >= 6) for m in range(60)]
