"""Every list route answers a bounded page (SPEC section 5): ``?limit=`` 1 to 500 (default 50),
an opaque ``cursor``, ``next_cursor`` null on the last page; searches where a person searches.

Rows are written straight into the database where the route only reads them (awards,
outbox messages, unmatched events), so that these tests hold whatever computes them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event, insert
from sqlmodel import col, select

from notifications.models import OutboxMessage
from tests.factories import create_physician, create_series, every_item, occurrences
from tracker.db import Database
from tracker.domain.models import AttendanceEvent, Award, Physician, Registration
from tracker.domain.tokens import hash_token
from tracker.http.keys import DATABASE

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
#: Names that sort with ties, accents and case, so that the order's tie-breakers matter.
NAMES = [
    ("Hélène", "Durand"),
    ("Paul", "Durand"),
    ("Paul", "Durand"),
    ("Chloé", "Simon"),
    ("Ana", "Åberg"),
    ("Zoé", "martin"),
    ("Jean", "Martin"),
]


def _physician_row(index: int, first: str = "Anne", last: str = "Lambert") -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "email": f"p{index:05d}@example.org",
        "timezone": "Europe/Paris",
        "language": "fr",
        "board_ids": {},
        "consent_board_reporting": False,
        "token_hash": hash_token(f"phy_test_{index}"),
        "created_at": NOW,
        "updated_at": NOW,
    }


async def add_physicians(database: Database, rows: list[dict[str, Any]]) -> list[int]:
    """Physicians written in bulk; their ids in insertion order."""
    async with database.session() as session:
        await session.exec(insert(Physician), params=rows)
        await session.commit()
        emails = [row["email"] for row in rows]
        found = await session.exec(select(Physician.id).where(col(Physician.email).in_(emails)))
        return sorted(pid for pid in found.all() if pid is not None)


async def add_awards(
    database: Database,
    occurrence_id: int,
    physician_ids: list[int],
    *,
    seconds: int,
    credits: dict[str, float],
    final: Callable[[int], bool] = lambda _index: True,
) -> None:
    """One award per physician at the occurrence, written in bulk; ``final(index)`` says which
    are final."""
    async with database.session() as session:
        await session.exec(
            insert(Award),
            params=[
                {
                    "occurrence_id": occurrence_id,
                    "physician_id": pid,
                    "seconds": seconds,
                    "credits": credits,
                    "anomalies": [],
                    "final": final(index),
                    "version": 1,
                    "computed_at": NOW,
                }
                for index, pid in enumerate(physician_ids)
            ],
        )
        await session.commit()


async def _json(client: TestClient, url: str, auth: dict[str, str], **params: str) -> Any:
    response = await client.get(url, params=params, headers=auth)
    assert response.status == 200, await response.text()
    return await response.json()


async def walk(
    client: TestClient, auth: dict[str, str], url: str, limit: int, **params: str
) -> list[list[dict[str, Any]]]:
    """Every page of ``url`` with ``limit``, following ``next_cursor``."""
    pages: list[list[dict[str, Any]]] = []
    cursor = ""
    while True:
        page = await _json(client, url, auth, limit=str(limit), cursor=cursor, **params)
        assert len(page["items"]) <= limit
        pages.append(page["items"])
        if page["next_cursor"] is None:
            return pages
        cursor = page["next_cursor"]


async def walk_back(
    client: TestClient, auth: dict[str, str], url: str, limit: int
) -> list[list[dict[str, Any]]]:
    """Every page of ``url``, from the last one back to the first by ``previous_cursor``."""
    cursor = ""
    while True:  # to the last page
        page = await _json(client, url, auth, limit=str(limit), cursor=cursor)
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    pages = [page["items"]]
    while page["previous_cursor"] is not None:
        page = await _json(client, url, auth, limit=str(limit), cursor=page["previous_cursor"])
        pages.insert(0, page["items"])
    return pages


@dataclass
class World:
    """A series with occurrences, physicians, registrations, awards, unmatched events and
    outbox messages: a handful of rows in every list."""

    series: dict[str, Any]
    occurrence_id: int
    physician_ids: list[int]


async def world(client: TestClient, auth: dict[str, str], database: Database) -> World:
    series = await create_series(client, auth, rrule="FREQ=WEEKLY;COUNT=11;BYDAY=MO")
    await create_series(client, auth, title="Second")
    await create_series(client, auth, title="Third")
    occurrence_id = (await occurrences(client, auth, series["id"]))[0]["id"]
    ids = await add_physicians(
        database, [_physician_row(i, first, last) for i, (first, last) in enumerate(NAMES)]
    )
    async with database.session() as session:
        for index, pid in enumerate(ids):
            session.add(Registration(series_id=series["id"], physician_id=pid, created_at=NOW))
            session.add(
                Award(
                    occurrence_id=occurrence_id,
                    physician_id=pid,
                    seconds=60 * (10 + index),
                    credits={"AMA_PRA_1": 0.25},
                    final=True,
                )
            )
        for index in range(9):
            session.add(
                AttendanceEvent(
                    source="api",
                    external_id=f"lost-{index}",
                    kind="join",
                    at=NOW,
                    email=f"stranger{index}@elsewhere.org",
                    requested_occurrence_id=occurrence_id,
                    occurrence_id=occurrence_id,
                    payload={},
                )
            )
        for index in range(12):
            session.add(
                OutboxMessage(
                    key=f"test:{index}",
                    kind="reminder" if index % 3 else "certificate",
                    recipient=f"p{index}@example.org",
                    subject=f"Message {index}",
                    message_id=f"<{index}@example.org>",
                    raw=b"x" * 100,
                    status="failed" if index % 4 == 0 else "sent",
                )
            )
        await session.commit()
    return World(series=series, occurrence_id=occurrence_id, physician_ids=ids)


def _routes(w: World) -> dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]:
    """Each list route of a world, with what identifies an item (to check order and unicity)."""
    series_id, occurrence_id = w.series["id"], w.occurrence_id
    return {
        "physicians": ("/api/physicians", lambda i: i["id"]),
        "series": ("/api/series", lambda i: i["id"]),
        "occurrences": (f"/api/series/{series_id}/occurrences", lambda i: (i["start"], i["id"])),
        "registrations": (f"/api/series/{series_id}/registrations", lambda i: i["physician_id"]),
        "attendance": (
            f"/api/occurrences/{occurrence_id}/attendance",
            lambda i: (i["last_name"], i["first_name"], i["physician_id"]),
        ),
        "unmatched": ("/api/attendance-events/unmatched", lambda i: i["id"]),
        "outbox": ("/api/outbox", lambda i: -i["id"]),
    }


LISTS = [
    "physicians",
    "series",
    "occurrences",
    "registrations",
    "attendance",
    "unmatched",
    "outbox",
]


@pytest.mark.parametrize("name", LISTS)
async def test_paging_gives_every_row_once_in_order(
    client: TestClient, auth: dict[str, str], database: Database, name: str
) -> None:
    w = await world(client, auth, database)
    url, key = _routes(w)[name]
    whole = (await _json(client, url, auth, limit="500"))["items"]

    pages = await walk(client, auth, url, limit=2)
    walked = [item for page in pages for item in page]

    assert len(whole) >= 3
    assert walked == whole
    assert len({json.dumps(key(item)) for item in walked}) == len(walked)
    if name != "attendance":  # names sort by the database's collation, checked below
        assert [key(item) for item in walked] == sorted(key(item) for item in walked)
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)


@pytest.mark.parametrize("name", LISTS)
async def test_previous_cursors_walk_back_through_the_same_pages(
    client: TestClient, auth: dict[str, str], database: Database, name: str
) -> None:
    w = await world(client, auth, database)
    url, _ = _routes(w)[name]

    assert await walk_back(client, auth, url, limit=3) == await walk(client, auth, url, limit=3)


async def test_attendance_is_by_last_name_then_first_name_then_id(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    w = await world(client, auth, database)
    url = f"/api/occurrences/{w.occurrence_id}/attendance"

    walked = [i for page in await walk(client, auth, url, limit=2) for i in page]

    durands = [(i["first_name"], i["physician_id"]) for i in walked if i["last_name"] == "Durand"]
    assert durands == [
        ("Hélène", w.physician_ids[0]),
        *[("Paul", pid) for pid in w.physician_ids[1:3]],
    ]
    assert len(walked) == len(NAMES)


@pytest.mark.parametrize("name", LISTS)
async def test_default_page_is_fifty_and_the_last_page_says_so(
    client: TestClient, auth: dict[str, str], database: Database, name: str
) -> None:
    w = await world(client, auth, database)
    url, _ = _routes(w)[name]

    page = await _json(client, url, auth)

    assert len(page["items"]) < 50
    assert page["next_cursor"] is None
    assert page["previous_cursor"] is None


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


BAD_LIMITS = ["0", "501", "-1", "abc", "1.5", "2147483648", "٣", " 5", "1e2", ""]
BAD_CURSORS = [
    "!!!",
    "not-base64-json",
    _cursor({"a": 1}),
    _cursor(["physicians", "a"]),
    _cursor(["elsewhere", "a", 1]),
    _cursor(["physicians", "x", 1]),
    _cursor(["physicians", "a", "1"]),
    _cursor(["physicians", "a", True]),
    _cursor(["physicians", "a", 2**40]),
    _cursor(["physicians", "a", 0]),
    _cursor(["occurrences", "a", "yesterday", 1]),
    _cursor(["occurrences", "a", "2027-03-01T12:00:00", 1]),
    _cursor(["attendance", "a", "x" * 300, "y", 1]),
    _cursor(["attendance", "a", "a\u0000b", "y", 1]),
    "A" * 5000,
]


@pytest.mark.parametrize("name", LISTS)
async def test_bad_limits_and_cursors_are_problems_not_failures(
    client: TestClient, auth: dict[str, str], database: Database, name: str
) -> None:
    w = await world(client, auth, database)
    url, _ = _routes(w)[name]
    answers = []
    for params in [{"limit": v} for v in BAD_LIMITS] + [{"cursor": v} for v in BAD_CURSORS]:
        response = await client.get(url, params=params, headers=auth)
        body = await response.json(content_type=None)
        answers.append((params, response.status, response.content_type, body["status"]))

    assert answers == [(p, 400, "application/problem+json", 400) for p, *_ in answers]


async def test_a_cursor_of_another_list_is_refused(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await world(client, auth, database)
    outbox = await _json(client, "/api/outbox", auth, limit="1")

    response = await client.get(
        "/api/physicians", params={"cursor": outbox["next_cursor"]}, headers=auth
    )

    assert response.status == 400
    assert "another list" in (await response.json())["detail"]


async def test_limit_bounds_are_accepted(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await add_physicians(database, [_physician_row(i) for i in range(3)])

    one = await _json(client, "/api/physicians", auth, limit="1")
    most = await _json(client, "/api/physicians", auth, limit="500")
    empty = await _json(client, "/api/physicians", auth, cursor="")

    assert (len(one["items"]), len(most["items"]), len(empty["items"])) == (1, 3, 3)


# Searches ------------------------------------------------------------------------------------


async def _names(client: TestClient, auth: dict[str, str], url: str, **params: str) -> list[str]:
    items = await every_item(client, auth, url, **params)
    return [f"{i['first_name']} {i['last_name']}" for i in items]


async def test_physicians_are_found_by_any_part_of_a_name_any_case_any_accent(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_physician(
        client, auth, first_name="Hélène", last_name="Lefèvre", email="hl@a.org", npi=None
    )
    await create_physician(
        client, auth, first_name="Helena", last_name="Durand", email="hd@a.org", npi=None
    )
    await create_physician(
        client, auth, first_name="Jürgen", last_name="MÜLLER", email="jm@a.org", npi=None
    )
    await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="pm@a.org", npi=None
    )

    assert await _names(client, auth, "/api/physicians", q="Helene") == ["Hélène Lefèvre"]
    assert await _names(client, auth, "/api/physicians", q="LEFÈV") == ["Hélène Lefèvre"]
    assert await _names(client, auth, "/api/physicians", q="HELEN") == [
        "Hélène Lefèvre",
        "Helena Durand",
    ]
    assert await _names(client, auth, "/api/physicians", q="muller") == ["Jürgen MÜLLER"]
    assert await _names(client, auth, "/api/physicians", q="helen durand") == ["Helena Durand"]
    assert await _names(client, auth, "/api/physicians", q="lefevre hélène") == ["Hélène Lefèvre"]
    assert await _names(client, auth, "/api/physicians", q="nobody") == []


async def test_a_name_is_found_whichever_apostrophe_either_side_typed(
    client: TestClient, auth: dict[str, str]
) -> None:
    """A keyboard types ', a phone or a word processor U+2019: each finds the other."""
    await create_physician(
        client, auth, first_name="Marie-Hélène", last_name="d’Alembert", email="a@a.org", npi=None
    )
    await create_physician(
        client, auth, first_name="Seán", last_name="O'Connor", email="o@a.org", npi=None
    )

    assert await _names(client, auth, "/api/physicians", q="d'alembert") == [
        "Marie-Hélène d’Alembert"
    ]
    assert await _names(client, auth, "/api/physicians", q="D’ALEMBERT") == [
        "Marie-Hélène d’Alembert"
    ]
    assert await _names(client, auth, "/api/physicians", q="o’connor") == ["Seán O'Connor"]
    assert await _names(client, auth, "/api/physicians", q="o‘connor") == ["Seán O'Connor"]


async def test_physicians_are_found_by_email_and_identifiers(
    client: TestClient, auth: dict[str, str]
) -> None:
    await create_physician(
        client, auth, first_name="A", last_name="One", email="alpha@clinic.fr", npi="1234567893"
    )
    await create_physician(
        client,
        auth,
        first_name="B",
        last_name="Two",
        email="beta@hospital.org",
        npi=None,
        rpps="10101234567",
        board_ids={"ABIM": "778899"},
    )

    assert await _names(client, auth, "/api/physicians", q="CLINIC") == ["A One"]
    assert await _names(client, auth, "/api/physicians", q="45678") == ["A One"]
    assert await _names(client, auth, "/api/physicians", q="1010123") == ["B Two"]
    assert await _names(client, auth, "/api/physicians", q="7788") == ["B Two"]
    assert await _names(client, auth, "/api/physicians", email="BETA@hospital.org") == ["B Two"]


async def test_search_wildcards_are_literal(client: TestClient, auth: dict[str, str]) -> None:
    await create_physician(
        client, auth, first_name="Ann", last_name="Plain", email="a_b@x.org", npi=None
    )
    await create_physician(
        client, auth, first_name="Bob", last_name="Plain", email="axb@x.org", npi=None
    )

    assert await _names(client, auth, "/api/physicians", q="a_b") == ["Ann Plain"]
    assert await _names(client, auth, "/api/physicians", q="%") == []
    assert await _names(client, auth, "/api/physicians", q="\\") == []


async def test_search_pages_like_the_whole_list(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await add_physicians(
        database,
        [_physician_row(i, "Chloé" if i % 3 == 0 else "Marc", f"Name{i}") for i in range(40)],
    )

    pages = await walk(client, auth, "/api/physicians", limit=4, q="chloe")

    found = [item["last_name"] for page in pages for item in page]
    assert found == [f"Name{i}" for i in range(0, 40, 3)]


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 201}, {"q": "a\u0000b"}, {"email": "a\u0000b"}],
)
async def test_unreadable_searches_are_problems(
    client: TestClient, auth: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get("/api/physicians", params=params, headers=auth)

    assert (response.status, response.content_type) == (400, "application/problem+json")


async def test_attendance_is_searched_by_name_and_filtered_by_physician(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    w = await world(client, auth, database)
    url = f"/api/occurrences/{w.occurrence_id}/attendance"

    assert await _names(client, auth, url, q="helene") == ["Hélène Durand"]
    assert await _names(client, auth, url, q="durand") == [
        "Hélène Durand",
        "Paul Durand",
        "Paul Durand",
    ]
    assert await _names(client, auth, url, q="aberg") == ["Ana Åberg"]
    assert await _names(client, auth, url, physician_id=str(w.physician_ids[3])) == ["Chloé Simon"]
    bad = await client.get(url, params={"physician_id": "x"}, headers=auth)
    assert (bad.status, bad.content_type) == (400, "application/problem+json")


async def test_outbox_is_filtered_by_status_and_kind(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await world(client, auth, database)

    failed = await every_item(client, auth, "/api/outbox", status="failed")
    certificates = await every_item(client, auth, "/api/outbox", kind="certificate")
    both = await every_item(client, auth, "/api/outbox", status="failed", kind="reminder")

    assert [m["subject"] for m in failed] == ["Message 8", "Message 4", "Message 0"]
    assert [m["subject"] for m in certificates] == [f"Message {i}" for i in (9, 6, 3, 0)]
    assert [m["subject"] for m in both] == ["Message 8", "Message 4"]


async def test_unmatched_events_are_searched_by_email(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await world(client, auth, database)

    found = await every_item(client, auth, "/api/attendance-events/unmatched", q="STRANGER3")

    assert [e["email"] for e in found] == ["stranger3@elsewhere.org"]


# Bounded pages -------------------------------------------------------------------------------


async def test_a_page_of_thousands_of_physicians_reads_one_bounded_range(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await add_physicians(database, [_physician_row(i) for i in range(3000)])
    statements: list[str] = []
    engine = client.app[DATABASE].engine.sync_engine

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = await client.get("/api/physicians", headers=auth)
        body = await first.read()
        page = json.loads(body)
        second = await _json(client, "/api/physicians", auth, cursor=page["next_cursor"])
        searched = await _json(client, "/api/physicians", auth, q="p0299")
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    reads = [s for s in statements if "FROM physician" in s and "token_hash =" not in s]
    assert len(page["items"]) == 50
    assert len(body) < 50 * 600
    assert second["items"][0]["id"] == page["items"][-1]["id"] + 1
    assert [p["email"] for p in searched["items"]] == [f"p0299{i}@example.org" for i in range(10)]
    assert len(reads) == 3
    assert all("LIMIT" in s for s in reads)


async def test_a_page_of_a_1500_attendee_session_is_bounded(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth)
    occurrence_id = (await occurrences(client, auth, series["id"]))[0]["id"]
    ids = await add_physicians(database, [_physician_row(i, last=f"N{i:04d}") for i in range(1500)])
    await add_awards(  # half provisional: recomputed for the page only
        database,
        occurrence_id,
        ids,
        seconds=3000,
        credits={"AMA_PRA_1": 0.75},
        final=lambda index: index % 2 == 0,
    )
    url = f"/api/occurrences/{occurrence_id}/attendance"

    response = await client.get(url, headers=auth)
    body = await response.read()
    page = json.loads(body)

    assert [i["last_name"] for i in page["items"]] == [f"N{i:04d}" for i in range(50)]
    assert len(body) < 50 * 400
    assert page["next_cursor"] is not None


# Exports are streamed ------------------------------------------------------------------------


async def test_export_streams_batches_that_add_up_to_the_whole_file(
    client: TestClient, auth: dict[str, str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.domain import exports

    series = await create_series(client, auth)
    first, second = (await occurrences(client, auth, series["id"]))[:2]
    rows = [_physician_row(i, last=f"L{i % 4}") for i in range(7)]
    for row in rows:
        row["consent_board_reporting"] = True
    rows[2]["board_ids"] = {"ABIM": "123", "ABP": "456"}
    ids = await add_physicians(database, rows)
    async with database.session() as session:
        for occurrence in (first, second):
            for pid in ids:
                session.add(
                    Award(
                        occurrence_id=occurrence["id"],
                        physician_id=pid,
                        seconds=3600,
                        credits={"AMA_PRA_1": 1.0},
                        final=True,
                    )
                )
        await session.commit()
        whole = await exports.completions_csv(session)
    monkeypatch.setattr(exports, "BATCH", 3)

    response = await client.get("/api/exports/completions.csv", headers=auth)
    text = await response.text()

    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert text == whole
    assert len(text.splitlines()) == 1 + 2 * 8  # a header, then 8 rows per session
    assert [line.split(",")[2] for line in text.splitlines()[1:9]] == sorted(
        ["L0", "L0", "L1", "L1", "L2", "L2", "L2", "L3"]
    )


async def test_an_export_that_fails_part_way_is_cut_not_ended(
    client: TestClient, auth: dict[str, str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the answer has begun no problem document can follow: the connection is cut before
    the last chunk, so that no client takes a truncated file for a whole one."""
    from tracker.domain import exports

    series = await create_series(client, auth)
    occurrence_id = (await occurrences(client, auth, series["id"]))[0]["id"]
    rows = [_physician_row(i) for i in range(5)]
    for row in rows:
        row["consent_board_reporting"] = True
    ids = await add_physicians(database, rows)
    async with database.session() as session:
        for pid in ids:
            session.add(
                Award(
                    occurrence_id=occurrence_id,
                    physician_id=pid,
                    seconds=3600,
                    credits={"AMA_PRA_1": 1.0},
                    final=True,
                )
            )
        await session.commit()
    monkeypatch.setattr(exports, "BATCH", 2)
    calls = 0
    real = exports.completion_batch

    async def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(exports, "completion_batch", failing)

    response = await client.get("/api/exports/completions.csv", headers=auth)

    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()
