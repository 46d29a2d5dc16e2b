"""Property: the completions export, fetched over HTTP, parses back with the csv module whatever
the names hold (formula prefixes, tabs, CR/LF, quotes, any script), one row per award, and no
cell a spreadsheet would run as a formula.

Physicians and final awards are written straight to the database (names from an import or an
older version need not pass today's validation); the export is read through the real app,
served once per engine on a loopback port, for every generated example.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.schemas import SeriesCreate
from schedules.series import create_series
from tests.smtp import free_port
from tests.tracker.http.api.test_schemathesis import LiveApp
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Award, Occurrence, Physician
from tracker.domain.tokens import hash_token
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
HOSTILE = st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", "\r\n", '"', "'", ",", "\u2028"])
NAME = st.one_of(
    st.text(TEXT, min_size=1, max_size=40),
    st.builds(lambda a, b: a + b, HOSTILE, st.text(TEXT, max_size=30)),
    st.builds(
        lambda a, b, c: a + b + c, st.text(TEXT, max_size=10), HOSTILE, st.text(TEXT, max_size=10)
    ),
).filter(lambda name: 1 <= len(name) <= 100)
TITLE = '=HYPERLINK("https://evil.example","Les lundis")'


async def _world(url: str) -> tuple[str, int]:
    """An organiser token and the one occurrence every award of the test is for."""
    database = Database(url)
    try:
        async with database.session() as session:
            _, token = await create_organizer(database, name="Camille", email="cam@example.org")
            series = await create_series(
                session,
                SeriesCreate.model_validate(
                    {
                        "title": TITLE,
                        "timezone": "Europe/Paris",
                        "start": "2026-11-02T12:30:00",
                        "duration_minutes": 60,
                        "join_url": "https://zoom.us/j/81234567890",
                        "credits": [{"type": "AMA_PRA_1", "max": 1.0}],
                    }
                ),
                credit_types={"AMA_PRA_1"},
                now=datetime(2026, 10, 1, tzinfo=UTC),
            )
            await session.commit()
            occurrence = (await session.exec(_occurrences(series.id or 0))).one()
        return token, occurrence.id or 0
    finally:
        await database.close()


def _occurrences(series_id: int) -> Any:
    from sqlmodel import select

    return select(Occurrence).where(Occurrence.series_id == series_id)


async def _physicians_with_final_awards(
    url: str, occurrence_id: int, names: list[tuple[str, str]], tag: str
) -> None:
    database = Database(url)
    try:
        async with database.session() as session:
            for n, (first, last) in enumerate(names):
                physician = Physician(
                    first_name=first,
                    last_name=last,
                    email=f"p{n}.{tag}@example.org",
                    consent_board_reporting=True,
                    token_hash=hash_token(f"{tag}-{n}"),
                )
                session.add(physician)
                await session.flush()
                session.add(
                    Award(
                        occurrence_id=occurrence_id,
                        physician_id=physician.id or 0,
                        seconds=3600,
                        credits={"AMA_PRA_1": 1.0},
                        final=True,
                    )
                )
            await session.commit()
    finally:
        await database.close()


@pytest.fixture
def served(database_url: str, tmp_path: Any) -> Iterator[tuple[str, str, str, int]]:
    token, occurrence_id = asyncio.run(_world(database_url))
    port = free_port()
    settings_ = Settings(
        _env_file=None,  # pydantic-settings' init-only argument
        database_url=database_url,
        scheduler="off",
        base_url=f"http://127.0.0.1:{port}",
        maildir=tmp_path / "mail",
    )
    app = LiveApp(create_app(settings_), port)
    app.start()
    yield app.url, database_url, token, occurrence_id
    app.stop()


def _neutral(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(st.tuples(NAME, NAME), min_size=1, max_size=6))
def test_completions_export_parses_back_one_row_per_award_with_formulas_neutralised(
    served: tuple[str, str, str, int], names: list[tuple[str, str]]
) -> None:
    url, database_url, token, occurrence_id = served
    tag = uuid.uuid4().hex
    asyncio.run(_physicians_with_final_awards(database_url, occurrence_id, names, tag))

    response = requests.get(
        f"{url}/api/exports/completions.csv",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    mine = [row for row in rows if row["email"].endswith(f".{tag}@example.org")]

    assert response.status_code == 200
    assert sorted((row["first_name"], row["last_name"]) for row in mine) == sorted(
        (_neutral(first), _neutral(last)) for first, last in names
    )  # one row per award, each name intact once the neutralising quote is taken off
    assert all(not cell.startswith(FORMULA_START) for row in rows for cell in row.values())
    assert {row["series_title"] for row in mine} == {"'" + TITLE}
