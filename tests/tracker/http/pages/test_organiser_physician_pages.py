"""The organiser's physician pages (issue 12): a physician's page with its emails and the two
buttons, the CSV import from the page (the CLI's line-numbered report), and registering a
pasted list or a CSV of addresses to a series."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from notifications.models import OutboxMessage
from tests.factories import create_physician, create_series
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tests.tracker.services.test_import_physicians import FRENCH_EXCEL
from tracker.db import Database
from tracker.errors import DuplicateRowError, RowError
from tracker.http.pages.i18n import translator
from tracker.http.pages.organiser_physicians import _row_reason
from tracker.services.imports import RACED

DATA = Path(__file__).resolve().parents[3] / "data"


async def _kinds(database: Database, physician_id: int) -> list[str]:
    async with database.session() as session:
        rows = await session.exec(
            select(OutboxMessage.kind)
            .where(OutboxMessage.physician_id == physician_id)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


async def test_a_physicians_page_shows_their_series_and_emails_and_sends_a_welcome_or_a_link(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth, send_welcome=True)
    series = await create_series(client, auth, title="Les lundis <b>numériques</b>")
    await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": jeanne["id"]},
        headers=auth,
    )
    cookie = await organiser_cookie(database)
    path = f"/organizer/physicians/{jeanne['id']}"
    listing = await (await client.get("/organizer/physicians?q=durand", headers=cookie)).text()
    html = await (await client.get(f"{path}?lang=fr", headers=cookie)).text()
    forms = Forms(html)
    (link,) = [f for a, f, _ in forms.forms if a == path and f["action"] == "sign_in_link"]
    (welcome,) = [f for a, f, _ in forms.forms if a == path and f["action"] == "welcome"]

    sent_link = await client.post(path, data=link, headers=cookie, allow_redirects=False)
    sent_welcome = await client.post(path, data=welcome, headers=cookie, allow_redirects=False)
    after = await (await client.get(sent_welcome.headers["Location"], headers=cookie)).text()
    old_token = await client.get("/api/me", headers={"Authorization": f"Bearer {jeanne['token']}"})

    assert f'href="{path}"' in listing
    assert "Les lundis &lt;b&gt;numériques&lt;/b&gt;" in html
    assert "jeanne.durand@example.org" in html and "welcome" in html
    assert (sent_link.status, sent_welcome.status) == (303, 303)
    assert await _kinds(database, jeanne["id"]) == ["welcome", "sign-in", "welcome"]
    assert "nouveau lien personnel" in after
    assert old_token.status == 401
    assert (await client.get("/organizer/physicians/999999", headers=cookie)).status == 404


def _upload(csrf: str, content: bytes | None, *, welcome: bool = False) -> aiohttp.FormData:
    """The import form as a browser sends it (``None``: no file chosen, an empty file part
    without a name)."""
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    if welcome:
        form.add_field("welcome", "yes")
    if content is None:
        form.add_field("file", b"", filename="", content_type="application/octet-stream")
    else:
        form.add_field("file", content, filename="médecins.csv", content_type="text/csv")
    return form


async def _csrf(client: TestClient, cookie: dict[str, str]) -> str:
    html = await (await client.get("/organizer/import", headers=cookie)).text()
    return Forms(html).by_id("import-form")["csrf"]


async def test_the_import_page_reports_like_the_cli_line_by_line(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)
    content = (DATA / "physicians.csv").read_bytes()

    first = await client.post(
        "/organizer/import?lang=fr", data=_upload(csrf, content), headers=cookie
    )
    report = await first.text()
    again = await (
        await client.post("/organizer/import?lang=en", data=_upload(csrf, content), headers=cookie)
    ).text()
    found = await (await client.get("/api/physicians", params={"q": "durand"}, headers=auth)).json()

    assert first.status == 200
    assert "Import terminé" in report
    assert re.search(r"\d+ créés, 0 mis à jour, 0 inchangé, \d+ lignes en erreur", report)
    # line 4's timezone is Mars/Olympus: said in the page's language
    assert re.search(r"<li>Ligne 4 : Choisissez un fuseau horaire dans la liste", report), report
    assert re.search(r"0 created, 0 updated, \d+ unchanged", again)
    assert re.search(r"<li>Line 4: Choose a timezone from the list", again), again
    assert any(p["email"] == "jeanne.durand@example.org" for p in found["items"])


async def test_the_import_page_takes_a_french_excel_export(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)

    done = await client.post(
        "/organizer/import?lang=fr",
        data=_upload(csrf, FRENCH_EXCEL.encode("cp1252")),
        headers=cookie,
    )
    found = await (await client.get("/api/physicians", params={"q": "LŒUVRE"}, headers=auth)).json()

    assert done.status == 200
    assert "3 créés, 0 mis à jour, 0 inchangé, 0 ligne en erreur" in await done.text()
    assert [p["last_name"] for p in found["items"]] == ["Lœuvre; dit « FX »"]


@pytest.mark.parametrize(
    ("content", "status", "says"),
    [
        (None, 422, "Choisissez un fichier CSV"),
        (b"", 422, "Ce fichier est vide"),
        ("prénom;nom\n".encode("latin-1"), 422, "Ligne 1"),  # read, but not our columns
        (b"name,mail\nJeanne,j@example.org\n", 422, "Ligne 1"),
    ],
)
async def test_the_import_page_refuses_what_is_not_a_physicians_csv(
    client: TestClient, database: Database, content: bytes | None, status: int, says: str
) -> None:
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)
    answer = await client.post(
        "/organizer/import?lang=fr", data=_upload(csrf, content), headers=cookie
    )
    html = await answer.text()

    assert answer.status == status
    assert says in html
    assert 'aria-invalid="true"' in html


@pytest.mark.parametrize(
    ("content", "fr", "en"),
    [
        (
            b"prenom,nom,email\nJeanne,Durand,j@example.org\n",
            "Ligne 1 : la première ligne ne nomme pas la ou les colonnes first_name, last_name ;"
            " elle nomme des colonnes que l'import ne connaît pas : prenom, nom."
            " Rien n'a été importé.",
            "Line 1: the first line does not name the column(s) first_name, last_name; it names"
            " column(s) the import does not know: prenom, nom. Nothing was imported.",
        ),
        (
            b"\n\nfirst_name,email\n",
            "Ligne 3 : la première ligne ne nomme pas la ou les colonnes last_name."
            " Rien n'a été importé.",
            "Line 3: the first line does not name the column(s) last_name. Nothing was imported.",
        ),
        (
            "\ufeff\n \n".encode(),
            "Ce fichier est vide : sa première ligne nomme les colonnes",
            "This file is empty: its first line names the columns",
        ),
        (
            b"first_name,last_name,email\x00\n",
            "Ligne 1 : un champ contient un caractère NUL (U+0000). Rien n'a été importé.",
            "Line 1: a field holds a NUL character (U+0000). Nothing was imported.",
        ),
        (
            b"first_name,last_name,email\n\x81\x8d\x90,x,y@example.org\n",  # no encoding's text
            "Ce fichier n'est pas un texte en UTF-8, UTF-16 ou Windows-1252",
            "This file is not text in UTF-8, UTF-16 or Windows-1252",
        ),
    ],
)
async def test_the_import_page_says_why_a_header_is_refused_in_its_language(
    client: TestClient, database: Database, content: bytes, fr: str, en: str
) -> None:
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)

    answers = {
        lang: await client.post(
            f"/organizer/import?lang={lang}", data=_upload(csrf, content), headers=cookie
        )
        for lang in ("fr", "en")
    }
    said = {lang: html_lib.unescape(await a.text()) for lang, a in answers.items()}

    assert [a.status for a in answers.values()] == [422, 422]
    assert fr in said["fr"]
    assert en in said["en"]
    assert "the header lacks" not in said["fr"]  # the CLI's sentence stays the CLI's


def test_a_raced_row_is_said_in_the_page_language() -> None:
    raced = RowError(4, RACED, "raced")

    assert _row_reason(raced, translator("fr")) == (
        "un autre import a créé ce médecin au même moment ; importez de nouveau le fichier"
    )
    assert _row_reason(raced, translator("en")) == RACED
    assert str(raced) == f"line 4: {RACED}"  # the CLI's line, unchanged


def test_an_address_given_twice_is_said_in_the_page_language() -> None:
    twice = DuplicateRowError(6, 2, "fx@example.fr")

    assert _row_reason(twice, translator("fr")) == (
        "cette adresse électronique figure déjà ligne 2 : un médecin par adresse, cette ligne a "
        "donc été laissée de côté"
    )
    assert _row_reason(twice, translator("en")).startswith("this email address is on line 2")


async def test_the_import_page_lists_unreadable_lines_in_its_language(
    client: TestClient, database: Database
) -> None:
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)
    content = b"first_name,last_name,email\nJeanne,Du\x00rand,j@example.org\n"

    answer = await client.post(
        "/organizer/import?lang=fr", data=_upload(csrf, content), headers=cookie
    )
    html = html_lib.unescape(await answer.text())

    assert answer.status == 200
    assert "<li>Ligne 2 : un champ contient un caractère NUL (U+0000)</li>" in html


async def test_the_import_page_needs_the_form_token(client: TestClient, database: Database) -> None:
    cookie = await organiser_cookie(database)
    answer = await client.post(
        "/organizer/import", data=_upload("forged", b"first_name,last_name,email\n"), headers=cookie
    )
    assert answer.status == 403


async def test_a_pasted_list_and_a_csv_register_physicians_to_a_series(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth)
    paul = await create_physician(client, auth, email="paul@example.org", npi=None)
    claire = await create_physician(client, auth, email="claire@example.org", npi=None)
    series = await create_series(client, auth)
    cookie = await organiser_cookie(database)
    html = await (await client.get(f"/organizer/series/{series['id']}", headers=cookie)).text()
    csrf = Forms(html).by_id("bulk-form")["csrf"]
    path = f"/organizer/series/{series['id']}/registrations"

    pasted = await client.post(
        f"{path}?lang=fr",
        data={
            "csrf": csrf,
            "emails": "Jeanne.Durand@example.org\npaul@example.org, nobody@example.org\npaul@example.org",
        },
        headers=cookie,
    )
    upload = aiohttp.FormData()
    upload.add_field("csrf", csrf)
    upload.add_field("emails", "")
    upload.add_field(
        "file", b"email,name\nclaire@example.org,Claire\npaul@example.org,Paul\n", filename="l.csv"
    )
    uploaded = await client.post(f"{path}?lang=en", data=upload, headers=cookie)
    empty = await client.post(
        path, data={"csrf": csrf, "emails": "nothing here"}, headers=cookie, allow_redirects=False
    )
    registered = await (
        await client.get(f"/api/series/{series['id']}/registrations", headers=auth)
    ).json()

    assert pasted.status == 200
    assert "2 inscrits, 0 déjà inscrit, 1 introuvable." in await pasted.text()
    assert "nobody@example.org" in await pasted.text()
    assert "1 registered, 1 already registered, 0 not found." in await uploaded.text()
    assert empty.headers["Location"].endswith("?bulk=empty#bulk")
    assert sorted(r["physician_id"] for r in registered["items"]) == sorted(
        [jeanne["id"], paul["id"], claire["id"]]
    )


async def test_a_pasted_address_that_is_no_address_is_named_not_dropped(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """``med03example.org`` (no @) vanished without a word, and ``med04@example,org`` showed
    as "not found" while its ``org`` vanished."""
    await create_physician(client, auth, email="jeanne@example.org", npi=None)
    series = await create_series(client, auth)
    cookie = await organiser_cookie(database)
    html = await (await client.get(f"/organizer/series/{series['id']}", headers=cookie)).text()
    csrf = Forms(html).by_id("bulk-form")["csrf"]
    pasted = "Jeanne Durand <jeanne@example.org>\nmed03example.org\nmed04@example,org\n@\n"

    done = await client.post(
        f"/organizer/series/{series['id']}/registrations?lang=fr",
        data={"csrf": csrf, "emails": pasted},
        headers=cookie,
    )
    only_bad = await client.post(
        f"/organizer/series/{series['id']}/registrations?lang=en",
        data={"csrf": csrf, "emails": "med03example.org"},
        headers=cookie,
    )
    said = html_lib.unescape(await done.text())

    assert done.status == 200
    assert "1 inscrit, 0 déjà inscrit, 0 introuvable." in said
    assert (
        "Pas des adresses électroniques, laissées de côté : med04@example, med03example.org, @"
        in said
    )
    assert "Durand" not in said.split("laissées de côté")[1]  # names beside addresses are fine
    assert only_bad.status == 200
    assert "Not email addresses, left out: med03example.org" in await only_bad.text()


async def test_a_list_registered_to_a_full_series_says_how_many_wait_in_line(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    for name in ("anna", "bruno", "chloe"):
        await create_physician(client, auth, email=f"{name}@example.org", npi=None)
    series = await create_series(client, auth, registration="open", capacity=1)
    cookie = await organiser_cookie(database)
    html = await (await client.get(f"/organizer/series/{series['id']}", headers=cookie)).text()
    csrf = Forms(html).by_id("bulk-form")["csrf"]
    path = f"/organizer/series/{series['id']}/registrations"
    french = await (
        await client.get(f"/organizer/series/{series['id']}?lang=fr", headers=cookie)
    ).text()

    lined = await client.post(
        f"{path}?lang=en",
        data={"csrf": csrf, "emails": "bruno@example.org\nanna@example.org"},
        headers=cookie,
    )
    forced = await client.post(
        f"{path}?lang=fr",
        data={"csrf": csrf, "emails": "chloe@example.org", "over_capacity": "on"},
        headers=cookie,
    )
    registered = await (
        await client.get(f"/api/series/{series['id']}/registrations", headers=auth)
    ).json()

    assert (
        "1 registered, 0 already registered, 0 not found. 1 on the waitlist: the series is full."
        in (await lined.text())
    )
    assert "1 inscrit, 0 déjà inscrit, 0 introuvable." in await forced.text()
    assert len(registered["items"]) == 2
    # the box the organiser ticks for that, in the page's language
    assert '<input id="bulk-over" name="over_capacity" type="checkbox" value="on">' in html
    assert "past the capacity (1) instead of the waitlist" in html
    assert "au-delà de la capacité (1) plutôt que la liste d'attente" in html_lib.unescape(french)


async def test_requirements_and_registrations_are_managed_from_a_physicians_page(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth)
    series = await create_series(client, auth)
    await client.post(
        f"/api/series/{series['id']}/registrations",
        json={"physician_id": jeanne["id"]},
        headers=auth,
    )
    cookie = await organiser_cookie(database)
    path = f"/organizer/physicians/{jeanne['id']}"
    forms = Forms(await (await client.get(path, headers=cookie)).text())
    add = forms.by_id("requirement-form")

    added = await client.post(
        path,
        data={
            **add,
            "type": "AMA_PRA_1",
            "required": "50,5",  # a French decimal comma
            "from": "2027-01-01",
            "to": "2027-12-31",
        },
        headers=cookie,
        allow_redirects=False,
    )
    backwards = await client.post(
        f"{path}?lang=fr",
        data={
            **add,
            "type": "AMA_PRA_1",
            "required": "5",
            "from": "2027-12-31",
            "to": "2027-01-01",
        },
        headers=cookie,
    )
    exponent = await client.post(
        path,
        data={
            **add,
            "type": "AMA_PRA_1",
            "required": "5e1",
            "from": "2027-01-01",
            "to": "2027-02-01",
        },
        headers=cookie,
    )
    unknown = await client.post(
        path,
        data={
            **add,
            "type": "NOT_A_TYPE",
            "required": "5",
            "from": "2027-01-01",
            "to": "2027-02-01",
        },
        headers=cookie,
    )
    credits = await (
        await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
    ).json()
    after = Forms(await (await client.get(path, headers=cookie)).text())
    (delete,) = [f for a, f, _ in after.forms if a == path and f["action"] == "delete_requirement"]
    (unregister,) = [f for a, f, _ in after.forms if a == path and f["action"] == "unregister"]
    deleted = await client.post(path, data=delete, headers=cookie, allow_redirects=False)
    left = await client.post(path, data=unregister, headers=cookie, allow_redirects=False)
    credits_after = await (
        await client.get(f"/api/physicians/{jeanne['id']}/credits", headers=auth)
    ).json()
    registered = await (
        await client.get(f"/api/series/{series['id']}/registrations", headers=auth)
    ).json()

    assert added.status == 303
    assert backwards.status == 422 and "la seconde pas avant la première" in await backwards.text()
    assert (unknown.status, exponent.status) == (422, 422)
    assert [(r["type"], r["required"]) for r in credits["requirements"]] == [("AMA_PRA_1", 50.5)]
    assert (deleted.status, left.status) == (303, 303)
    assert credits_after["requirements"] == []
    assert registered["items"] == []


async def test_one_physician_is_added_from_the_list_page_errors_next_to_fields(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    await create_physician(client, auth)  # jeanne.durand@example.org
    cookie = await organiser_cookie(database)
    form = Forms(await (await client.get("/organizer/physicians", headers=cookie)).text()).by_id(
        "physician-form"
    )
    base = {**form, "first_name": "Paul", "last_name": "Martin", "welcome": "yes"}

    refused = await client.post(
        "/organizer/physicians?lang=fr",
        data={
            **base,
            "email": "jeanne.durand@example.org",
            "npi": "1234567890",
            "timezone": "Mars/Olympus",
        },
        headers=cookie,
    )
    html = await refused.text()
    added = await client.post(
        "/organizer/physicians",
        data={**base, "email": "paul.martin@example.org", "npi": ""},
        headers=cookie,
        allow_redirects=False,
    )
    found = await (
        await client.get("/api/physicians", params={"q": "paul martin"}, headers=auth)
    ).json()

    assert refused.status == 422
    assert 'id="new-npi-error">Un NPI compte 10 chiffres' in html
    assert 'id="new-timezone-error">Choisissez un fuseau horaire' in html
    assert 'value="Paul"' in html  # what was typed is kept
    assert added.status == 303
    assert [p["email"] for p in found["items"]] == ["paul.martin@example.org"]
    assert added.headers["Location"] == f"/organizer/physicians/{found['items'][0]['id']}"


async def test_a_physicians_details_are_edited_from_their_page_errors_next_to_fields(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth)  # jeanne.durand@example.org, with an NPI
    await create_physician(
        client, auth, first_name="Paul", email="paul@example.org", npi=None, rpps=None
    )
    cookie = await organiser_cookie(database)
    path = f"/organizer/physicians/{jeanne['id']}"
    form = Forms(await (await client.get(path, headers=cookie)).text()).by_id("edit-form")
    assert (form["first_name"], form["email"]) == ("Jeanne", "jeanne.durand@example.org")

    bad_zone = await client.post(
        f"{path}?lang=fr", data={**form, "timezone": "Mars/Olympus"}, headers=cookie
    )
    zone_html = await bad_zone.text()
    refused = await client.post(
        f"{path}?lang=fr", data={**form, "email": "paul@example.org"}, headers=cookie
    )
    html = await refused.text()
    saved = await client.post(
        path,
        data={
            **form,
            "last_name": "Durand-Lefèvre",
            "email": "j.durand@chu.example.org",
            "npi": "",
        },
        headers=cookie,
        allow_redirects=False,
    )
    stored = await (await client.get(f"/api/physicians/{jeanne['id']}", headers=auth)).json()

    assert bad_zone.status == 422
    assert 'id="edit-timezone-error">Choisissez un fuseau horaire' in zone_html
    assert 'value="Mars/Olympus"' in zone_html  # what was typed is kept
    assert refused.status == 422  # another physician's address
    assert 'id="edit-email-error">Donnez une adresse électronique valide' in html
    assert (saved.status, saved.headers["Location"]) == (303, f"{path}?done=edit")
    assert (stored["last_name"], stored["email"], stored["npi"]) == (
        "Durand-Lefèvre",
        "j.durand@chu.example.org",
        None,  # an empty NPI clears it
    )


async def test_a_physicians_emails_are_listed_in_the_page_language(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth, send_welcome=True)
    cookie = await organiser_cookie(database)

    french = await (
        await client.get(f"/organizer/physicians/{jeanne['id']}?lang=fr", headers=cookie)
    ).text()

    assert "<td>bienvenue</td>" in french and "<td>en attente</td>" in french
    assert "<td>welcome</td>" not in french and "<td>pending</td>" not in french


# An NPI or RPPS number another physician holds: said next to its field, in the page's language


async def test_an_npi_another_physician_holds_is_refused_on_the_edit_page_in_french(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth, npi="1234567893")
    paul = await create_physician(client, auth, email="paul@example.org", npi=None)
    cookie = await organiser_cookie(database)
    path = f"/organizer/physicians/{paul['id']}"
    form = Forms(await (await client.get(path, headers=cookie)).text()).by_id("edit-form")

    refused = await client.post(
        f"{path}?lang=fr", data={**form, "npi": "1234567893"}, headers=cookie
    )
    html = await refused.text()
    stored = await (await client.get(f"/api/physicians/{paul['id']}", headers=auth)).json()

    assert refused.status == 422
    assert (
        f'id="edit-npi-error">Le médecin n° {jeanne["id"]} a déjà ce NPI : un NPI identifie une '
        "seule personne." in html
    )
    assert 'value="1234567893"' in html  # what was typed is kept
    assert stored["npi"] is None


async def test_an_rpps_another_physician_holds_is_refused_on_the_list_page_in_english(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth, npi=None, rpps="10001234567")
    cookie = await organiser_cookie(database)
    form = Forms(await (await client.get("/organizer/physicians", headers=cookie)).text()).by_id(
        "physician-form"
    )

    refused = await client.post(
        "/organizer/physicians?lang=en",
        data={
            **form,
            "first_name": "Paul",
            "last_name": "Martin",
            "email": "paul@example.org",
            "rpps": "10001234567",
        },
        headers=cookie,
    )

    assert refused.status == 422
    assert (
        f'id="new-rpps-error">Physician no. {jeanne["id"]} has this RPPS number already'
        in await refused.text()
    )


async def test_the_import_page_names_rows_giving_a_held_npi_in_the_page_language(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    jeanne = await create_physician(client, auth, npi="1234567893")
    cookie = await organiser_cookie(database)
    csrf = await _csrf(client, cookie)
    content = (
        "first_name,last_name,email,npi,rpps\n"
        "Claire,Petit,claire@example.org,1234567893,\n"
        "Paul,Martin,paul@example.org,,10001234567\n"
        "Zoé,Roux,zoe@example.org,,10001234567\n"
    ).encode()

    done = await client.post(
        "/organizer/import?lang=fr", data=_upload(csrf, content), headers=cookie
    )
    report = await done.text()

    assert done.status == 200
    assert "1 créé, 0 mis à jour, 0 inchangé, 2 lignes en erreur" in report
    assert (
        f"<li>Ligne 2 : le médecin n° {jeanne['id']} a déjà ce NPI : un médecin par NPI, cette "
        "ligne a donc été laissée de côté" in report
    )
    assert (
        "<li>Ligne 4 : ce numéro RPPS figure déjà ligne 3 : un médecin par numéro RPPS, cette "
        "ligne a donc été laissée de côté" in report
    )


async def test_a_physicians_page_in_french_names_languages_dates_and_states_in_french(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """No code on a French page: a language is named (français, anglais), a requirement's dates
    are written out (1er janvier 2026), one sent email reads "envoyé", not "envoyés"."""
    jeanne = await create_physician(client, auth, send_welcome=True)
    paul = await create_physician(
        client, auth, first_name="Paul", email="paul@example.org", language="en", npi=None
    )
    response = await client.post(
        f"/api/physicians/{jeanne['id']}/requirements",
        json={"type": "DPC_HOURS", "required": 28, "from": "2026-01-01", "to": "2026-12-31"},
        headers=auth,
    )
    assert response.status == 200, await response.text()
    async with database.session() as session:
        (welcome,) = (await session.exec(select(OutboxMessage))).all()
        welcome.status = "sent"
        session.add(welcome)
        await session.commit()
    cookie = await organiser_cookie(database)

    page = html_lib.unescape(
        await (
            await client.get(f"/organizer/physicians/{jeanne['id']}?lang=fr", headers=cookie)
        ).text()
    )
    listing = html_lib.unescape(
        await (await client.get("/organizer/physicians?lang=fr", headers=cookie)).text()
    )
    english = html_lib.unescape(
        await (
            await client.get(f"/organizer/physicians/{paul['id']}?lang=en", headers=cookie)
        ).text()
    )

    assert "<dd>français</dd>" in page
    assert "<td>1er janvier 2026</td><td>31 décembre 2026</td>" in page
    assert "<td>envoyé</td>" in page and "envoyés" not in page
    assert "<td>français</td>" in listing and "<td>anglais</td>" in listing
    assert "<dd>English</dd>" in english
