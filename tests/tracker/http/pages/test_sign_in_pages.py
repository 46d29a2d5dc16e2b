"""The "email me a sign-in link" form: on the home page, the bad-link page, the signed-out page
and the not-signed-in page, in French and English; its answer tells nothing about the address."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_physician
from tests.tracker.security_world import physician_session
from tracker.db import Database
from tracker.http.background import BACKGROUND
from tracker.http.pages.i18n import STRINGS

pytestmark = pytest.mark.any_engine

FORM = 'action="/sign-in"'


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize(
    ("path", "status"),
    [("/", 200), ("/me/phy_not-a-token", 404), ("/signed-out", 200), ("/me", 401)],
)
async def test_the_form_is_on_the_page_in_its_language(
    client: TestClient, lang: str, path: str, status: int
) -> None:
    response = await client.get(f"{path}?lang={lang}")
    html = await response.text()

    assert response.status == status
    assert html.count(FORM) == 1
    assert STRINGS[lang]["signin.link.send"] in html
    assert f'<input type="hidden" name="lang" value="{lang}">' in html


async def test_signing_out_lands_on_the_signed_out_page(
    client: TestClient, auth: dict[str, str]
) -> None:
    physician = await create_physician(client, auth)
    cookie, csrf = await physician_session(client, physician["token"])

    response = await client.post(
        "/me/signout", data={"csrf": csrf}, headers={"Cookie": cookie}, allow_redirects=False
    )

    assert (response.status, response.headers["Location"]) == (303, "/signed-out")


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
    client: TestClient, auth: dict[str, str], database: Database, lang: str
) -> None:
    await create_physician(client, auth)

    answers = []
    for email in ("jeanne.durand@example.org", "nobody@example.org"):
        response = await client.post("/sign-in", data={"email": email, "lang": lang})
        answers.append((response.status, await response.text()))
    await client.app[BACKGROUND].drain()

    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert STRINGS[lang]["signin.link.sent"].replace("'", "&#39;") in answers[0][1]


async def test_a_bad_address_shows_the_form_again_with_the_error(client: TestClient) -> None:
    response = await client.post("/sign-in", data={"email": "jeanne@", "lang": "fr"})
    html = await response.text()

    assert response.status == 422
    assert STRINGS["fr"]["signin.link.invalid"] in html
    assert 'aria-invalid="true"' in html and 'value="jeanne@"' in html


async def test_a_form_posted_from_another_site_is_refused(client: TestClient) -> None:
    response = await client.post(
        "/sign-in",
        data={"email": "jeanne.durand@example.org"},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status == 403


async def test_too_many_requests_from_one_client_get_a_localised_429(client: TestClient) -> None:
    for n in range(10):
        await client.post("/sign-in", data={"email": f"p{n}@example.org", "lang": "en"})
    await client.app[BACKGROUND].drain()

    response = await client.post("/sign-in", data={"email": "p@example.org", "lang": "fr"})

    assert response.status == 429
    assert "Trop de demandes de lien" in await response.text()
    assert int(response.headers["Retry-After"]) > 0
