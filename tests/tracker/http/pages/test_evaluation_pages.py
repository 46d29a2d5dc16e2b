"""The organiser's evaluation pages as a browser without JavaScript uses them: the claim
settings and the question editor (linked from the series page), a session's results (linked
from its attendance page) and their CSV; errors are localised next to their field."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aiohttp.test_utils import TestClient

from tests.factories import create_series
from tests.smtp import parse
from tests.tracker.claims_world import FINAL, build_claim_world, finalise, link_in, outbox
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tracker.db import Database

pytestmark = pytest.mark.any_engine
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


async def _forms(client: TestClient, path: str, headers: dict[str, str]) -> Forms:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return Forms(await response.text())


async def test_the_organiser_writes_the_evaluation_and_sets_claims_from_the_pages(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await create_series(client, auth)
    cookie = {**await organiser_cookie(database), **FRENCH}
    page = await client.get(f"/organizer/series/{series['id']}", headers=cookie)
    assert f'href="/organizer/series/{series["id"]}/evaluation"' in await page.text()
    path = f"/organizer/series/{series['id']}/evaluation"

    form = (await _forms(client, path, cookie)).by_id("evaluation-form")
    assert [k for k in form if k.startswith("kind-")] == ["kind-0", "kind-1", "kind-2"]
    form.update(
        {
            "kind-0": "scale",
            "fr-0": "Utile ?",
            "en-0": "Useful?",
            "kind-1": "text",
            "fr-1": "<b>Vos idées</b>",
            "en-1": "<b>Your ideas</b>",
            "position-1": "0",  # first
        }
    )
    saved = await client.post(path, data=form, headers=cookie, allow_redirects=False)
    assert saved.status == 303, await saved.text()
    body = await (await client.get(f"/api/series/{series['id']}/evaluation", headers=auth)).json()
    assert [(q["kind"], q["text_en"]) for q in body["questions"]] == [
        ("text", "<b>Your ideas</b>"),
        ("scale", "Useful?"),
    ]
    html = await (await client.get(path, headers=cookie)).text()
    assert "&lt;b&gt;Vos idées&lt;/b&gt;" in html and "<b>Vos idées" not in html

    form = (await _forms(client, path, cookie)).by_id("evaluation-form")
    form["fr-2"] = "Recommanderiez-vous ?"  # English wording missing
    form["kind-2"] = "yes_no"
    refused = await client.post(path, data=form, headers=cookie)
    assert refused.status == 422
    assert "Formulez la question en français et en anglais." in await refused.text()
    assert 'value="Recommanderiez-vous ?"' in await refused.text()  # what was typed stays

    form = (await _forms(client, path, cookie)).by_id("evaluation-form")
    form["remove-0"] = "yes"
    assert (await client.post(path, data=form, headers=cookie, allow_redirects=False)).status == 303
    body = await (await client.get(f"/api/series/{series['id']}/evaluation", headers=auth)).json()
    assert [q["kind"] for q in body["questions"]] == ["scale"]

    settings = (await _forms(client, path, cookie)).by_id("claim-settings")
    assert settings["claim_window_days"] == "30"
    settings.update({"claim_required": "yes", "claim_window_days": "14"})
    claims_path = f"/organizer/series/{series['id']}/claims"
    done = await client.post(claims_path, data=settings, headers=cookie, allow_redirects=False)
    assert done.status == 303
    read = await (await client.get(f"/api/series/{series['id']}", headers=auth)).json()
    assert (read["claim_required"], read["claim_window_days"]) == (True, 14)
    for bad in ("0", "366", "deux", ""):
        refused = await client.post(
            claims_path, data={**settings, "claim_window_days": bad}, headers=cookie
        )
        assert refused.status == 422
        assert "Saisissez un nombre de jours entre 1 et 365." in await refused.text()
    forged = await client.post(claims_path, data={**settings, "csrf": "x"}, headers=cookie)
    assert forged.status == 403


async def test_the_organiser_reads_a_sessions_results_and_downloads_the_csv(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> None:
    world = await build_claim_world(client, auth)
    await finalise(database, scheduler)
    scale, yes_no, text = world.question_ids
    for row in await outbox(database):
        path, _ = link_in(parse(row.raw))
        answer = "5" if row.recipient.startswith("jeanne") else "2"
        with time_machine.travel(FINAL + timedelta(hours=1), tick=False):
            done = await client.post(
                path,
                data={
                    "minutes": "40",
                    "attest": "yes",
                    f"q{scale}": answer,
                    f"q{yes_no}": "no",
                    f"q{text}": "@SUM(A1) <i>bien</i>",
                },
            )
            assert done.status == 200, await done.text()
    cookie = {**await organiser_cookie(database), **FRENCH}
    attendance = await client.get(f"/organizer/occurrences/{world.occurrence_id}", headers=cookie)
    results_path = f"/organizer/occurrences/{world.occurrence_id}/evaluation"
    assert f'href="{results_path}"' in await attendance.text()

    html = await (await client.get(results_path, headers=cookie)).text()
    assert "2 demandes faites sur 2 proposées." in html
    assert "Moyenne : <strong>3,5</strong>" in html
    assert "Oui : 0 · Non : 2" in html
    assert "@SUM(A1) &lt;i&gt;bien&lt;/i&gt;" in html
    assert f'href="{results_path}.csv"' in html

    export = await client.get(f"{results_path}.csv", headers=cookie)
    assert export.status == 200 and export.content_type == "text/csv"
    table = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig"))))
    assert len(table) == 1 + 6
    assert {row[7] for row in table[1:] if row[4] == "text"} == {"'@SUM(A1) <i>bien</i>"}
    assert len({row[2] for row in table[1:]}) == 2  # two responses, numbered, not named
    assert not any("Durand" in cell or "@example.org" in cell for row in table for cell in row)
    signed_out = await client.get(f"{results_path}.csv", allow_redirects=False)
    assert signed_out.status == 303
