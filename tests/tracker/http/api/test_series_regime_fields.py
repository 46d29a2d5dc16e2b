"""The series' certificate identifiers per regime (issue 11 point 6): the DPC action's
reference and a state medical council's accreditation reference, through the API and the
organiser's series form, and the provider's identifiers as settings."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_series, series_body
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tracker.db import Database
from tracker.domain import limits
from tracker.errors import ConfigError
from tracker.settings import load_settings

DPC = "99992625001"
COUNCIL = "MMC/MAC/2026/C-012345"


async def test_the_references_are_kept_shown_and_cleared(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = await create_series(
        client, auth, dpc_action_ref=DPC, council_accreditation_ref=COUNCIL
    )
    url = f"/api/series/{created['id']}"

    shown = await (await client.get(url, headers=auth)).json()
    cleared = await client.patch(url, json={"dpc_action_ref": None}, headers=auth)
    after = await cleared.json()

    assert (shown["dpc_action_ref"], shown["council_accreditation_ref"]) == (DPC, COUNCIL)
    assert cleared.status == 200
    assert (after["dpc_action_ref"], after["council_accreditation_ref"]) == (None, COUNCIL)
    assert after["sequence"] == shown["sequence"]  # no feed shows them: no new SEQUENCE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dpc_action_ref", "1234"),
        ("dpc_action_ref", "9" * (limits.DPC_ACTION_REF + 1)),
        ("dpc_action_ref", "9999 2625001"),
        ("dpc_action_ref", "<script>alert(1)</script>"),
        ("dpc_action_ref", "99992625001\u0000"),
        ("council_accreditation_ref", "/MMC"),
        ("council_accreditation_ref", "M" * (limits.COUNCIL_ACCREDITATION_REF + 1)),
        ("council_accreditation_ref", "MMC\nInjected: header"),
        ("council_accreditation_ref", "MMC/\u202eevil"),
        ("council_accreditation_ref", 12345),
    ],
)
async def test_hostile_or_oversized_references_are_refused_with_422(
    client: TestClient, auth: dict[str, str], field: str, value: object
) -> None:
    response = await client.post("/api/series", json=series_body(**{field: value}), headers=auth)
    problem = await response.json()

    assert (response.status, response.content_type) == (422, "application/problem+json")
    assert field in problem["detail"]


async def test_the_series_form_edits_the_references(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    created = await create_series(client, auth)
    cookie = await organiser_cookie(database)
    page = await client.get(f"/organizer/series/{created['id']}", headers=cookie)
    form = Forms(await page.text()).by_id("series-form")
    form |= {"dpc_action_ref": f" {DPC} ", "council_accreditation_ref": COUNCIL}

    saved = await client.post(
        f"/organizer/series/{created['id']}", data=form, headers=cookie, allow_redirects=False
    )
    series = await (await client.get(f"/api/series/{created['id']}", headers=auth)).json()
    refused = await client.post(
        f"/organizer/series/{created['id']}",
        data=form | {"dpc_action_ref": "<b>"},
        headers=cookie | {"Accept-Language": "fr"},
        allow_redirects=False,
    )

    assert saved.status == 303, await saved.text()
    assert (series["dpc_action_ref"], series["council_accreditation_ref"]) == (DPC, COUNCIL)
    assert refused.status == 422
    assert "dpc_action_ref" in await refused.text()


@pytest.mark.parametrize(
    ("name", "value"),
    [("dpc_provider_number", "12-34"), ("dpc_provider_number", "123456789"), ("council_board", "")],
)
def test_a_bad_regime_setting_stops_start_up_with_one_line(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, **{name: value})

    assert f"TRACKER_{name.upper()}:" in str(caught.value)
    assert "\n" not in str(caught.value)
