"""One date per session, whoever reads it and from wherever: its start's date where it is held.

A Paris session at 00:30 on Tuesday 1 December 2026 starts at 23:30 UTC on 30 November, and at
15:30 on 30 November in Los Angeles. Its certificate dates it 1 December; so must the monthly
statement (December's, not November's), a requirement window of December, and the board export
(its ``completion_date``, and the days ``from`` and ``to`` select), else an auditor holding the
certificate finds the completion in another month or not at all.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_physician, create_series, job_context, occurrences
from tests.smtp import SmtpServer
from tests.tracker.services.test_email import deliver, pdf_text
from tracker.db import Database
from tracker.jobs import plan_finalisations
from tracker.services.statements import send_statements


async def _attended(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> dict[str, Any]:
    """Ana, in Los Angeles, attended the whole 00:30 Paris session; credits final."""
    series = await create_series(client, auth, start="2026-12-01T00:30:00", rrule=None)
    ana = await create_physician(
        client, auth, first_name="Ana", email="ana@example.org", timezone="America/Los_Angeles"
    )
    (session,) = await occurrences(client, auth, series["id"])
    assert session["start"] == "2026-11-30T23:30:00Z"
    requirement = await client.post(
        f"/api/physicians/{ana['id']}/requirements",
        json={"type": "AMA_PRA_1", "required": 10, "from": "2026-12-01", "to": "2026-12-31"},
        headers=auth,
    )
    assert requirement.status == 200, await requirement.text()
    with time_machine.travel(datetime(2026, 12, 1, 0, 40, tzinfo=UTC), tick=False):
        posted = await client.post(
            "/api/attendance-events",
            json=[
                {
                    "event_id": kind,
                    "occurrence_id": session["id"],
                    "physician_id": ana["id"],
                    "kind": kind,
                    "at": at,
                }
                for kind, at in (("join", session["start"]), ("leave", session["end"]))
            ],
            headers=auth,
        )
        assert posted.status == 202, await posted.text()
    with time_machine.travel(datetime(2026, 12, 1, 2, 5, tzinfo=UTC), tick=False):
        await plan_finalisations(job_context(database, scheduler))
    return ana


async def _exported(client: TestClient, auth: dict[str, str], **dates: str) -> list[str]:
    response = await client.get("/api/exports/completions.csv", params=dates, headers=auth)
    assert response.status == 200, await response.text()
    rows = csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig")))
    return [row["completion_date"] for row in rows]


async def test_the_export_dates_and_selects_a_session_by_its_date_where_it_is_held(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    await _attended(client, auth, database, scheduler)

    december = await _exported(client, auth, **{"from": "2026-12-01", "to": "2026-12-31"})
    november = await _exported(client, auth, **{"from": "2026-11-01", "to": "2026-11-30"})
    instants = await _exported(
        client, auth, **{"from": "2026-11-30T23:00:00Z", "to": "2026-12-01T00:00:00Z"}
    )

    assert december == ["2026-12-01"]
    assert november == []
    assert instants == ["2026-12-01"]  # instants still select by the start in UTC


async def test_the_statement_and_requirements_date_a_session_as_its_certificate_does(
    client: TestClient,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
    smtp_server: SmtpServer,
) -> None:
    ana = await _attended(client, auth, database, scheduler)
    ctx = job_context(database, scheduler)

    november, _ = await send_statements(
        database, ctx.mail, "2026-11", now=datetime(2026, 12, 1, 6, 5, tzinfo=UTC)
    )
    december, _ = await send_statements(
        database, ctx.mail, "2026-12", now=datetime(2027, 1, 1, 6, 5, tzinfo=UTC)
    )
    await deliver(database, smtp_server, at=datetime(2027, 1, 1, 6, 6, tzinfo=UTC))
    credits = await (await client.get(f"/api/physicians/{ana['id']}/credits", headers=auth)).json()

    (statement,) = [
        m for m in smtp_server.recorder.messages if "relevé" in str(m["Subject"]).lower()
    ]
    certificate = next(m for m in smtp_server.recorder.messages if m is not statement)
    text = pdf_text(statement)
    assert (november, december) == (0, 1)
    assert "Relevé de formation : décembre 2026" in text
    assert "mardi 1er décembre 2026 — Les lundis de la santé numérique — 60 min" in text
    assert "1,0 sur 10,0" in text
    assert "mardi 1er décembre 2026" in pdf_text(certificate)
    assert credits["requirements"][0]["earned"] == 1.0
    assert credits["awards"][0]["session_date"] == "2026-12-01"
