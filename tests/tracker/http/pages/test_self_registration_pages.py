"""Self-registration pages through the real app, in French and English: the public series page
(sessions with the zone named, the form or the sentence saying why not), the form's answers,
the confirmation link, the physician leaving a series or its waitlist, and the organiser's
lists of who is registered, waiting or yet to confirm."""

from __future__ import annotations

import json
from html import unescape

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from tests.factories import create_physician, create_series, every_item
from tests.tracker.http.pages.test_organiser_pages import Forms, organiser_cookie
from tests.tracker.self_registration_world import code_in, open_series, queued, request_body
from tracker.db import Database
from tracker.domain.models import Registration
from tracker.http.pages import sessions

pytestmark = pytest.mark.any_engine

FORM = {
    "first_name": "Inès",
    "last_name": "Moreau",
    "email": "ines.moreau@example.org",
    "language": "fr",
    "timezone": "America/New_York",
    "npi": "",
    "rpps": "10001234567",
    "consent_board_reporting": "yes",
}


async def test_the_public_page_names_the_zone_in_each_language(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth, capacity=30)

    fr = await client.get(f"/series/{series['slug']}?lang=fr")
    en = await client.get(f"/series/{series['slug']}?lang=en")
    feed = await client.get(f"/series/{series['slug']}.ics")

    french, english = await fr.text(), await en.text()
    assert (fr.status, en.status) == (200, 200)
    assert "lundi 1er mars 2027 à 12:30 (heure de Paris)" in french
    assert "lundi 29 mars 2027 à 12:30 (heure de Paris)" in french  # after the DST change
    assert "Monday 1 March 2027 at 12:30 (Paris time)" in english
    assert "Places restantes : 30." in french and "Seats left: 30." in english
    assert Forms(french).by_id("selfreg-form")["timezone"] == "Europe/Paris"
    assert Forms(english).by_id("selfreg-form")["language"] == "en"
    assert feed.status == 200 and feed.content_type == "text/calendar"


async def test_closed_invite_and_hidden_series_show_no_form(
    client: TestClient, auth: dict[str, str]
) -> None:
    closed = await create_series(client, auth, title="Fermée")
    invite = await create_series(client, auth, title="Invitation", registration="invite")
    hidden = await open_series(client, auth, title="Cachée", public=False)

    closed_fr = await (await client.get(f"/series/{closed['slug']}?lang=fr")).text()
    invite_en = await (await client.get(f"/series/{invite['slug']}?lang=en")).text()
    invite_fr = await (await client.get(f"/series/{invite['slug']}?lang=fr")).text()
    missing = await client.get(f"/series/{hidden['slug']}?lang=fr")
    posted = await client.post(f"/series/{closed['slug']}?lang=en", data=FORM)

    assert "Les inscriptions à cette série sont fermées." in closed_fr
    assert "by invitation only" in invite_en and "se fait sur invitation" in invite_fr
    assert 'id="selfreg-form"' not in closed_fr + invite_en
    assert missing.status == 404 and "text/html" in missing.headers["Content-Type"]
    assert posted.status == 409 and 'id="selfreg-form"' not in await posted.text()


async def test_the_form_says_what_is_wrong_in_the_page_language_and_keeps_what_was_typed(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth)

    bad_fr = await client.post(
        f"/series/{series['slug']}?lang=fr", data={**FORM, "npi": "1234567890", "email": "x@"}
    )
    bad_en = await client.post(f"/series/{series['slug']}?lang=en", data={**FORM, "rpps": "12"})
    good = await client.post(f"/series/{series['slug']}?lang=fr", data=FORM)

    text = unescape(await bad_fr.text())
    assert bad_fr.status == 422
    assert "Cette adresse électronique n'est pas valide." in text
    assert "Ce NPI n'est pas valide" in text
    kept = Forms(text).by_id("selfreg-form")
    assert (kept["first_name"], kept["timezone"], kept["npi"]) == (
        "Inès",
        "America/New_York",
        "1234567890",
    )
    assert bad_en.status == 422 and "An RPPS number has exactly 11 digits." in await bad_en.text()
    assert good.status == 200 and "Consultez votre messagerie" in await good.text()
    [(_, message)] = await queued(database, "self_registration")
    assert str(message["Subject"]).startswith("Confirmez votre inscription : ")
    body = message.get_body(("plain",))
    assert body is not None and "(heure de New York)" in body.get_content()


@pytest.mark.parametrize(
    ("lang", "fields", "expected"),
    [
        ("fr", {"last_name": "D" * 150}, "Nom : trop long, 100 caractères au plus."),
        ("en", {"last_name": "D" * 150}, "Last name: too long, at most 100 characters."),
        ("fr", {"first_name": "In\u0007s"}, "Prénom : les caractères de contrôle"),
        ("en", {"first_name": "In\u0007s"}, "First name: control characters"),
        ("fr", {"first_name": "\u200b", "last_name": "\u202e"}, "forçage de droite à gauche"),
        ("en", {"last_name": "O'Brien\u202eevil"}, "Last name: control characters"),
        ("fr", {"first_name": "123"}, "Prénom : écrivez au moins une lettre."),
        ("en", {"first_name": ""}, "Give your first name."),
        ("fr", {"npi": "\u0661" * 10}, "Ce NPI n'est pas valide"),
    ],
)
async def test_a_refused_name_says_what_is_wrong_with_it(
    client: TestClient, auth: dict[str, str], lang: str, fields: dict[str, str], expected: str
) -> None:
    series = await open_series(client, auth)

    refused = await client.post(f"/series/{series['slug']}?lang={lang}", data={**FORM, **fields})

    assert refused.status == 422
    assert expected in unescape(await refused.text())


async def test_the_self_registration_api_refuses_invisible_names_and_folds_fullwidth_numbers(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth)
    path = f"/api/series/{series['id']}/self-registrations"
    body = {"first_name": "In\u00e8s", "last_name": "Moreau", "email": "ines@example.org"}

    invisible = await client.post(path, json=body | {"first_name": "\u200b"})
    fullwidth = await client.post(
        path, json=body | {"npi": "".join(chr(0xFF10 + int(d)) for d in "1234567893")}
    )
    requests = await (
        await client.get(
            f"/api/series/{series['id']}/self-registrations?status=pending", headers=auth
        )
    ).json()

    assert invisible.status == 422
    assert [e["field"] for e in (await invisible.json())["errors"]] == ["first_name"]
    assert fullwidth.status == 202
    assert [r["npi"] for r in requests["items"]] == ["1234567893"]


async def _confirm_in_browser(client: TestClient, code: str) -> dict[str, str]:
    """Open the link (a page with a button: nothing used yet), press it; the session cookie."""
    shown = await client.get(f"/registration/{code}?lang=en")
    assert shown.status == 200 and "Confirm my registration" in await shown.text()
    done = await client.post(f"/registration/{code}")
    assert done.status == 200, await done.text()
    client.session.cookie_jar.clear()  # each physician's browser is its own: the header says
    return {"Cookie": f"{sessions.COOKIE}={done.cookies[sessions.COOKIE].value}"}


async def test_confirming_signs_in_and_the_physician_leaves_the_series_from_their_page(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    await client.post(f"/series/{series['slug']}", data=FORM)
    await client.post(
        f"/api/series/{series['id']}/self-registrations",
        json=request_body(email="paul@example.org", first_name="Paul", language="en"),
    )
    ines_mail, paul_mail = (m for _, m in await queued(database, "self_registration"))
    ines = await _confirm_in_browser(client, code_in(ines_mail))
    paul = await _confirm_in_browser(client, code_in(paul_mail))

    paul_page = await (await client.get("/me?lang=en", headers=paul)).text()
    ines_page = await client.get("/me?lang=fr", headers=ines)
    forms = Forms(await ines_page.text())
    csrf = next(f for a, f, _ in forms.forms if a == f"/me/registrations/{series['id']}/unregister")
    left = await client.post(
        f"/me/registrations/{series['id']}/unregister",
        data=csrf,
        headers=ines,
        allow_redirects=False,
    )
    forged = await client.post(
        f"/me/waitlist/{series['id']}/leave", data={"csrf": "nope"}, headers=paul
    )
    paul_after = await (await client.get("/me?lang=en", headers=paul)).text()

    assert "number 1 on the waitlist" in paul_page and "Leave the waitlist" in paul_page
    assert "Me désinscrire" in await ines_page.text()
    assert left.status == 303
    assert forged.status == 403
    assert "Unregister" in paul_after and "on the waitlist" not in paul_after
    registered = await every_item(client, auth, f"/api/series/{series['id']}/registrations")
    async with database.session() as session:
        rows = (await session.exec(select(Registration))).all()
    assert [r["physician_id"] for r in registered] == [rows[0].physician_id]
    [(_, promoted)] = await queued(database, "waitlist_promoted")
    assert promoted["To"].addresses[0].addr_spec == "paul@example.org"
    assert str(promoted["Subject"]).startswith("A seat is yours: ")


async def test_a_waitlisted_physician_leaves_the_line_from_their_page(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    for name in ("anna", "bruno"):
        await client.post(
            f"/api/series/{series['id']}/self-registrations",
            json=request_body(email=f"{name}@example.org", first_name=name),
        )
    anna_mail, bruno_mail = (m for _, m in await queued(database, "self_registration"))
    await _confirm_in_browser(client, code_in(anna_mail))
    bruno = await _confirm_in_browser(client, code_in(bruno_mail))
    forms = Forms(await (await client.get("/me", headers=bruno)).text())
    fields = next(f for a, f, _ in forms.forms if a == f"/me/waitlist/{series['id']}/leave")

    left = await client.post(
        f"/me/waitlist/{series['id']}/leave", data=fields, headers=bruno, allow_redirects=False
    )
    page = unescape(await (await client.get("/me?lang=fr", headers=bruno)).text())

    assert left.status == 303
    assert "liste d'attente" not in page
    waiting = await every_item(
        client, auth, f"/api/series/{series['id']}/self-registrations", status="waitlisted"
    )
    assert waiting == []


async def test_a_used_or_unknown_link_is_a_page_not_json(client: TestClient) -> None:
    response = await client.get("/registration/not-a-code?lang=fr")
    posted = await client.post("/registration/not-a-code?lang=en")

    assert response.status == 404 and "Lien inconnu" in await response.text()
    assert posted.status == 404 and "Unknown link" in await posted.text()


async def test_the_organiser_sees_who_is_registered_waiting_or_yet_to_confirm(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    series = await open_series(client, auth, capacity=1)
    for name in ("anna", "bruno", "chloe"):
        await client.post(
            f"/api/series/{series['id']}/self-registrations",
            json=request_body(email=f"{name}@example.org", first_name=name),
        )
    mails = [m for _, m in await queued(database, "self_registration")]
    for message in mails[:2]:  # chloe does not confirm
        await client.post(f"/registration/{code_in(message)}")
    cookie = await organiser_cookie(database)
    path = f"/organizer/series/{series['id']}"

    fr = unescape(await (await client.get(f"{path}?lang=fr", headers=cookie)).text())
    waiting = await (await client.get(f"{path}?status=waitlisted&lang=en", headers=cookie)).text()
    pending = await (await client.get(f"{path}?status=pending&lang=en", headers=cookie)).text()
    form = Forms(fr).by_id("series-form")
    form["capacity"] = "2"
    saved = await client.post(path, data=form, headers=cookie, allow_redirects=False)
    after = await (await client.get(f"{path}?lang=en", headers=cookie)).text()

    assert (
        "Inscrits : 1 (capacité : 1). En liste d'attente : 1. En attente de confirmation : 1." in fr
    )
    assert "anna@example.org" in fr and "bruno@example.org" not in fr
    assert "bruno@example.org" in waiting and "chloe@example.org" not in waiting
    assert "chloe@example.org" in pending
    assert (form["registration"], saved.status) == ("open", 303)
    assert "Registered: 2 (capacity: 2). Waitlisted: 0." in after


async def test_the_organiser_sees_each_number_a_request_gave_that_was_not_kept(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Confirming never tells the public who holds a number; the organiser's lists do: Inès
    gave Jeanne's NPI (registered without it), Paul was already on file without the RPPS he
    gave, Chloé gave Jeanne's NPI and has not confirmed yet; Bruno's number was kept."""
    jeanne = await create_physician(client, auth, npi="1234567893")
    await create_physician(
        client, auth, first_name="Paul", last_name="Martin", email="paul@example.org", npi=None
    )
    series = await open_series(client, auth, capacity=2)
    for email, numbers in (
        ("ines@example.org", {"npi": "1234567893"}),
        ("paul@example.org", {"rpps": "10001234567"}),
        ("bruno@example.org", {"rpps": "10007654321"}),
        ("chloe@example.org", {"npi": "1234567893"}),
    ):
        asked = await client.post(
            f"/api/series/{series['id']}/self-registrations",
            json=request_body(email=email, first_name=email.split("@")[0], **numbers),
        )
        assert asked.status == 202, await asked.text()
    mails = [m for _, m in await queued(database, "self_registration")]
    for message in mails[:3]:  # Chloé does not confirm; Bruno is third, on the waitlist
        await client.post(f"/registration/{code_in(message)}")
    cookie = await organiser_cookie(database)
    path = f"/organizer/series/{series['id']}"

    registered = unescape(await (await client.get(f"{path}?lang=fr", headers=cookie)).text())
    waiting = unescape(
        await (await client.get(f"{path}?status=waitlisted&lang=fr", headers=cookie)).text()
    )
    pending = unescape(
        await (await client.get(f"{path}?status=pending&lang=en", headers=cookie)).text()
    )

    assert (
        "NPI 1234567893 de la demande non retenu : un autre médecin le détient, "
        f'<a href="/organizer/physicians/{jeanne["id"]}">Jeanne Durand</a>'
    ) in registered
    assert "RPPS 10001234567 de la demande absent de la fiche du médecin." in registered
    assert "bruno@example.org" in waiting and "de la demande" not in waiting
    assert "NPI 1234567893 from the request was not kept: another physician holds it" in pending


async def test_posts_from_another_site_are_refused_and_change_nothing(
    client: TestClient, auth: dict[str, str], database: Database
) -> None:
    """Another site's page cannot make a visitor's browser request a registration (the form
    or the public API, whose JSON a cross-site form can send as text/plain), nor confirm one:
    that would sign the visitor in as someone else. Our own pages still can."""
    series = await open_series(client, auth)
    evil = {"Origin": "https://evil.example", "Accept-Language": "fr"}
    ours = {"Origin": str(client.make_url("/")).rstrip("/")}
    await client.post(f"/api/series/{series['id']}/self-registrations", json=request_body())
    [(_, message)] = await queued(database, "self_registration")

    form = await client.post(f"/series/{series['slug']}", data=FORM, headers=evil)
    api = await client.post(
        f"/api/series/{series['id']}/self-registrations",
        data=json.dumps(request_body(email="other@example.org")),
        headers={**evil, "Content-Type": "text/plain"},
    )
    confirmed = await client.post(f"/registration/{code_in(message)}", headers=evil)
    after = await queued(database, "self_registration")
    async with database.session() as session:
        registered = (await session.exec(select(Registration))).all()
    again = await client.post(f"/registration/{code_in(message)}", headers=ours)

    assert (form.status, api.status, confirmed.status) == (403, 403, 403)
    assert "ne vient pas de ce site" in unescape(await form.text())
    assert "ne vient pas de ce site" in unescape(await confirmed.text())
    assert api.content_type == "application/problem+json"
    assert "Set-Cookie" not in confirmed.headers
    assert (len(after), registered) == (1, [])
    assert again.status == 200


async def test_the_form_is_rate_limited_per_client_with_a_localised_page(
    client: TestClient, auth: dict[str, str]
) -> None:
    series = await open_series(client, auth)

    statuses = [
        (
            await client.post(
                f"/series/{series['slug']}?lang=fr", data={**FORM, "email": f"p{i}@example.org"}
            )
        ).status
        for i in range(10)
    ]
    refused = await client.post(f"/series/{series['slug']}?lang=fr", data=FORM)

    assert statuses == [200] * 10
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    text = unescape(await refused.text())
    assert "Trop de demandes depuis votre adresse" in text
    assert Forms(text).by_id("selfreg-form")["email"] == "ines.moreau@example.org"
