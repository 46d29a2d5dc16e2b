"""Messages holding a count agree with it in French and English (Babel's CLDR plural rules:
French puts 0 and 1 in the singular), through :func:`plural` and through the real pages."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_physician, create_series
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tracker.db import Database
from tracker.http.pages.i18n import PLURALS, plural

pytestmark = pytest.mark.any_engine

NNBSP = "\u202f"  # French groups digits with a narrow no-break space (CLDR)


def test_every_counted_message_has_a_singular_and_a_plural_in_both_languages() -> None:
    assert set(PLURALS["fr"]) == set(PLURALS["en"])
    for lang, messages in PLURALS.items():
        for key, forms in messages.items():
            assert set(forms) == {"one", "other"}, (lang, key)
            assert all("{n}" in form for form in forms.values()), (lang, key)


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("fr", 0, "0 ligne en erreur"),
        ("fr", 1, "1 ligne en erreur"),
        ("fr", 2, "2 lignes en erreur"),
        ("fr", 1234, f"1{NNBSP}234 lignes en erreur"),
        ("en", 0, "0 bad rows"),
        ("en", 1, "1 bad row"),
        ("en", 2, "2 bad rows"),
        ("en", 1234, "1,234 bad rows"),
    ],
)
def test_a_count_picks_the_form_babel_names_and_is_written_the_language_s_way(
    lang: str, count: int, expected: str
) -> None:
    assert plural(lang, "org.import.bad", count) == expected


@pytest.mark.parametrize(
    ("lang", "minutes", "expected"),
    [
        ("fr", 0.5, "0,5 min comptée"),
        ("fr", 1.5, "1,5 min comptée"),
        ("fr", 2, "2 min comptées"),
        ("en", 1.5, "1.5 min counted"),
    ],
)
def test_a_receipt_s_minutes_agree_with_their_participle(
    lang: str, minutes: float, expected: str
) -> None:
    assert plural(lang, "receipt.counted", minutes) == expected


@pytest.mark.parametrize("count", [0, 1, 2, 1234])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_counted_message_agrees_with_0_1_2_and_1234(lang: str, count: int) -> None:
    singular = count == 1 or (lang == "fr" and count == 0)
    written = f"1{NNBSP}234" if lang == "fr" else "1,234"
    for key, forms in PLURALS[lang].items():
        text = plural(lang, key, count)

        form = forms["one" if singular else "other"]
        assert text == form.format(n=written if count == 1234 else str(count)), (key, text)


async def _register(
    client: TestClient, cookie: dict[str, str], series_id: int, emails: str, lang: str
) -> str:
    html = await (await client.get(f"/organizer/series/{series_id}", headers=cookie)).text()
    csrf = Forms(html).by_id("bulk-form")["csrf"]
    response = await client.post(
        f"/organizer/series/{series_id}/registrations?lang={lang}",
        data={"csrf": csrf, "emails": emails},
        headers=cookie,
    )
    assert response.status == 200, await response.text()
    return await response.text()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "fr",
            [
                "0 inscrit, 0 déjà inscrit, 1 introuvable.",
                "1 inscrit, 0 déjà inscrit, 2 introuvables.",
                "2 inscrits, 1 déjà inscrit, 0 introuvable.",
            ],
        ),
        (
            "en",
            [
                "0 registered, 0 already registered, 1 not found.",
                "1 registered, 0 already registered, 2 not found.",
                "2 registered, 1 already registered, 0 not found.",
            ],
        ),
    ],
)
async def test_the_bulk_registration_page_agrees_with_each_count(
    client: TestClient, auth: dict[str, str], database: Database, lang: str, expected: list[str]
) -> None:
    for name in ("anna", "bruno", "chloe"):
        await create_physician(client, auth, email=f"{name}@example.org", npi=None)
    series = await create_series(client, auth)
    cookie = await organiser_cookie(database)

    pages = [
        await _register(client, cookie, series["id"], "nobody@example.org", lang),
        await _register(
            client, cookie, series["id"], "anna@example.org x@example.org y@example.org", lang
        ),
        await _register(
            client,
            cookie,
            series["id"],
            "anna@example.org bruno@example.org chloe@example.org",
            lang,
        ),
    ]

    for html, sentence in zip(pages, expected, strict=True):
        assert sentence in html


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", "1 créé, 0 mis à jour, 0 inchangé, 1 ligne en erreur."),
        ("en", "1 created, 0 updated, 0 unchanged, 1 bad row."),
    ],
)
async def test_the_import_report_page_agrees_with_each_count(
    client: TestClient, database: Database, lang: str, expected: str
) -> None:
    cookie = await organiser_cookie(database)
    html = await (await client.get(f"/organizer/import?lang={lang}", headers=cookie)).text()
    csrf = Forms(html).by_id("import-form")["csrf"]
    upload = aiohttp.FormData()
    upload.add_field("csrf", csrf)
    upload.add_field(
        "file",
        b"first_name,last_name,email\nAnna,Blanc,anna@example.org\nBad,Row,not-an-address\n",
        filename="physicians.csv",
    )

    response = await client.post(f"/organizer/import?lang={lang}", data=upload, headers=cookie)

    assert response.status == 200
    assert expected in await response.text()
