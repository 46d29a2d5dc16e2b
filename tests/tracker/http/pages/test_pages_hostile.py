"""Pages under hostile conditions: every HTML answer is unframeable and sniff-proof, a browser
never sees raw JSON, and no user text (any Unicode, markup, line breaks, very long) breaks a
page or injects a tag."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markupsafe import escape

from tests.tracker.security_world import (
    SESSION,
    World,
    build_world,
    cookie_value,
    hidden_csrf,
    organizer_session,
    physician_session,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.domain.models import Certificate
from tracker.http.routes import ROUTES
from tracker.services.organizers import create_organizer
from tracker.settings import Settings

pytestmark = pytest.mark.any_engine

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
HTML_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Call:
    method: str
    route: str  # the route's path template in ROUTES
    path: str
    cookie: str = ""
    data: dict[str, str] = field(default_factory=dict)


def html_calls(w: World) -> list[Call]:
    """Every route that answers HTML, as a signed-in browser would call it."""
    org, me = w.organizer_cookie, w.jeanne.cookie
    oc, pc = {"csrf": w.organizer_csrf}, {"csrf": w.jeanne.csrf}
    series, past = w.series_id, w.past_occurrence_id
    return [
        Call("GET", "/", "/"),
        Call("GET", "/me/{token}", "/me/phy_unknown"),
        Call("GET", "/me", "/me", me),
        Call("GET", "/me", "/me"),
        Call("POST", "/me/preferences", "/me/preferences", me, {}),
        Call("POST", "/me/token", "/me/token", me, pc),
        Call("POST", "/me/signout", "/me/signout", me, {}),
        Call("GET", "/me/certificates/{occurrence_id}.pdf", "/me/certificates/1.pdf"),
        Call("GET", "/organizer/login", "/organizer/login"),
        Call("POST", "/organizer/login", "/organizer/login", "", {"token": "x"}),
        Call("GET", "/organizer", "/organizer", org),
        Call("POST", "/organizer/series", "/organizer/series", org, oc),
        Call("GET", "/organizer/series/{id}", f"/organizer/series/{series}", org),
        Call("GET", "/organizer/series/{id}", "/organizer/series/nope", org),
        Call("POST", "/organizer/series/{id}", f"/organizer/series/{series}", org, oc),
        Call("POST", "/organizer/occurrences/{id}", f"/organizer/occurrences/{past}", org, oc),
        Call("GET", "/organizer/occurrences/{id}", f"/organizer/occurrences/{past}", org),
        Call("GET", "/organizer/physicians", "/organizer/physicians", org),
        Call("GET", "/organizer/unmatched", "/organizer/unmatched", org),
        Call(
            "POST",
            "/organizer/unmatched/{id}",
            f"/organizer/unmatched/{w.unmatched_event_id}",
            org,
            {**oc, "email": "nobody@example.org"},
        ),
        Call("GET", "/organizer/outbox", "/organizer/outbox", org),
        Call("POST", "/organizer/outbox/{id}/retry", "/organizer/outbox/1/retry", org, {}),
        Call("GET", "/organizer/occurrences/{id}/zoom", f"/organizer/occurrences/{past}/zoom", org),
        Call(
            "POST",
            "/organizer/occurrences/{id}/zoom",
            f"/organizer/occurrences/{past}/zoom",
            org,
            oc,
        ),
        Call("GET", "/organizer/preview", "/organizer/preview"),
        # issue 12: organiser console
        Call("GET", "/organizer/physicians/{id}", f"/organizer/physicians/{w.target.id}", org),
        Call("GET", "/organizer/physicians/{id}", "/organizer/physicians/999999", org),
        Call("GET", "/organizer/import", "/organizer/import", org),
        Call("GET", "/organizer/exports", "/organizer/exports?from=<script>", org),
        Call("POST", "/organizer/import", "/organizer/import", org, oc),
        Call(
            "GET",
            "/organizer/certificates/{code}/revoke",
            f"/organizer/certificates/{w.certificate_code}/revoke",
            org,
        ),
        Call(
            "GET",
            "/organizer/certificates/{code}/revoke",
            "/organizer/certificates/<script>/revoke",
            org,
        ),
        Call(
            "POST",
            "/organizer/series/{id}/registrations",
            f"/organizer/series/{series}/registrations",
            org,
            {**oc, "emails": "<script>alert(1)</script>@example.org, nobody@example.org"},
        ),
        Call("GET", "/static/{name}", "/static/none.js"),
        Call("GET", "/unsubscribe/{token}", f"/unsubscribe/{w.paul.unsubscribe}"),
        Call("GET", "/unsubscribe/{token}", "/unsubscribe/unknown"),
        Call("POST", "/unsubscribe/{token}", f"/unsubscribe/{w.paul.unsubscribe}"),
        Call("POST", "/unsubscribe/{token}", "/unsubscribe/unknown"),
        Call("GET", "/certificates/{code}", f"/certificates/{w.certificate_code}"),
        Call("GET", "/certificates/{code}", "/certificates/NOPE"),
        # self-registration
        Call("GET", "/series/{slug}", f"/series/{w.slug}"),
        Call("GET", "/series/{slug}", "/series/nope"),
        Call("POST", "/series/{slug}", f"/series/{w.slug}", "", {}),
        Call("GET", "/registration/{code}", "/registration/unknown"),
        Call("POST", "/registration/{code}", "/registration/unknown", "", {}),
        Call("GET", "/sign-in", "/sign-in"),
        Call("POST", "/sign-in", "/sign-in", "", {"email": "nobody@example.org"}),
        Call("POST", "/sign-in", "/sign-in", "", {"email": "not an address"}),
        Call("GET", "/signed-out", "/signed-out"),
        Call("GET", "/me/sign-in/{code}", "/me/sign-in/sil_unknown"),
        Call("POST", "/me/sign-in/{code}", "/me/sign-in/sil_unknown"),
        # credit receipts (issue 11 point 7)
        Call("GET", "/me/receipts/{occurrence_id}", f"/me/receipts/{past}", me),
        Call("GET", "/me/receipts/{occurrence_id}", "/me/receipts/x%00", me),
        Call(
            "GET",
            "/organizer/occurrences/{id}/receipts/{physician_id}",
            f"/organizer/occurrences/{past}/receipts/{w.jeanne.id}",
            org,
        ),
        Call(
            "GET",
            "/organizer/occurrences/{id}/receipts/{physician_id}",
            f"/organizer/occurrences/{past}/receipts/99999999999999999999",
            org,
        ),
        # claims and evaluations (issue 11)
        Call("GET", "/claims/{code}", "/claims/clm_unknown"),
        Call("POST", "/claims/{code}", "/claims/clm_unknown", "", {"minutes": "60"}),
        Call(
            "GET",
            "/organizer/series/{id}/evaluation",
            f"/organizer/series/{series}/evaluation",
            org,
        ),
        Call(
            "GET",
            "/organizer/occurrences/{id}/evaluation",
            f"/organizer/occurrences/{past}/evaluation",
            org,
        ),
    ]


@pytest.fixture
async def world(
    client: TestClient, auth: dict[str, str], database: Database, scheduler: Any
) -> World:
    return await build_world(client, auth, database, scheduler)


async def _call(client: TestClient, call: Call, **headers: str) -> Any:
    sent = {"Accept": BROWSER, **headers}
    if call.cookie:
        sent["Cookie"] = call.cookie
    return await client.request(
        call.method, call.path, data=call.data or None, headers=sent, allow_redirects=False
    )


# 20. One set of security headers on every HTML response ----------------------------------------


async def test_every_html_response_carries_the_security_headers(
    client: TestClient, world: World
) -> None:
    calls = html_calls(world)
    missing: list[str] = []
    html_answers = 0
    for call in calls:
        response = await _call(client, call)
        if response.status >= 500:
            missing.append(f"{call.method} {call.path}: {response.status}")
        if response.content_type == "text/html":
            html_answers += 1
            headers = {name: response.headers.get(name) for name in HTML_HEADERS}
            csp = response.headers.get("Content-Security-Policy", "")
            if headers != HTML_HEADERS or "frame-ancestors 'none'" not in csp:
                missing.append(f"{call.method} {call.path} {response.status}: {headers} {csp!r}")
        elif response.headers.get("X-Content-Type-Options") != "nosniff":
            missing.append(f"{call.method} {call.path}: no nosniff")

    html_routes = {
        (r.method, r.path)
        for r in ROUTES
        if r.response == "text/html" or r.path == "/certificates/{code}"
    }
    assert html_routes - {(c.method, c.route) for c in calls} == set()
    assert missing == []
    assert html_answers >= len(calls) - 8  # redirects answer no page


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/openapi.json", "/calendar.ics", "/api/series", "/static/preview.js", "/nope"],
)
async def test_every_response_is_nosniff(client: TestClient, path: str) -> None:
    response = await client.get(path)

    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_unsubscribe_page_cannot_be_framed(client: TestClient, world: World) -> None:
    response = await client.get(f"/unsubscribe/{world.jeanne.unsubscribe}")

    assert response.status == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# 21. Pages answer pages -------------------------------------------------------------------------


def _lang(html: str) -> str:
    match = re.search(r'<html lang="(\w+)"', html)
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("fr-FR,fr;q=0.9", "Vous n'êtes pas connecté(e)"), ("en-GB", "You are not signed in")],
)
async def test_me_after_sign_out_answers_a_localised_page_not_json(
    client: TestClient, auth: dict[str, str], accept_language: str, expected: str
) -> None:
    from tests.factories import create_physician

    physician = await create_physician(client, auth)
    cookie, csrf = await physician_session(client, physician["token"])
    signed_out = await client.post(
        "/me/signout", data={"csrf": csrf}, headers={"Cookie": cookie}, allow_redirects=False
    )

    response = await client.get(
        "/me", headers={"Cookie": cookie, "Accept": BROWSER, "Accept-Language": accept_language}
    )
    html = await response.text()

    assert signed_out.status == 303
    assert (response.status, response.content_type) == (401, "text/html")
    assert _lang(html) == accept_language[:2]
    assert expected in html.replace("&#39;", "'")
    assert "<header>" in html  # the site's layout


async def test_page_route_errors_are_localised_pages_with_their_status(
    client: TestClient, world: World
) -> None:
    org, me = world.organizer_cookie, world.jeanne.cookie
    cases = [
        (Call("GET", "", "/me"), 401),
        (Call("POST", "", "/me/preferences", me, {"csrf": "forged"}), 403),
        (Call("POST", "", "/organizer/series", org, {"csrf": "forged"}), 403),
        (Call("GET", "", "/organizer/series/abc", org), 404),
        (Call("GET", "", "/organizer/series/99999999", org), 404),
        (Call("GET", "", "/organizer/occurrences/99999999", org), 404),
        (Call("GET", "", "/me/certificates/99999999.pdf", me), 404),
        (Call("GET", "", "/static/none.js"), 404),
        (Call("GET", "", "/no/such/page"), 404),
        (Call("DELETE", "", "/organizer"), 405),
    ]
    answers = []
    for call, _ in cases:
        response = await _call(client, call, **{"Accept-Language": "fr"})
        html = await response.text()
        answers.append((call.path, response.status, response.content_type, _lang(html)))

    assert answers == [(c.path, status, "text/html", "fr") for c, status in cases]


async def test_too_many_failures_on_a_page_answer_a_429_page(
    client: TestClient, settings: Settings
) -> None:
    for _ in range(settings.auth_failure_limit):
        await client.get("/me/phy_guess", headers={"Accept": BROWSER})

    response = await client.get(
        "/me/phy_guess", headers={"Accept": BROWSER, "Accept-Language": "fr"}
    )

    assert (response.status, response.content_type) == (429, "text/html")
    assert int(response.headers["Retry-After"]) > 0
    assert "Trop de tentatives" in await response.text()


@pytest.mark.parametrize("accept", [BROWSER, "application/json", "*/*"])
async def test_api_routes_keep_problem_json_whatever_the_client_accepts(
    client: TestClient, auth: dict[str, str], accept: str
) -> None:
    unknown = await client.get("/api/series/abc", headers={**auth, "Accept": accept})
    unsigned = await client.get("/api/series", headers={"Accept": accept})

    assert (unknown.status, unknown.content_type) == (404, "application/problem+json")
    assert (unsigned.status, unsigned.content_type) == (401, "application/problem+json")


async def _supersede(database: Database, world: World) -> str:
    """A re-issued certificate for Jeanne (version 2): the first one is now superseded."""
    async with database.session() as session:
        session.add(
            Certificate(
                code="NEWCODE-2222222-3333333-4444444",
                occurrence_id=world.past_occurrence_id,
                physician_id=world.jeanne.id,
                version=2,
                minutes=30,
                credits={"AMA_PRA_1": 0.5},
            )
        )
        await session.commit()
    return "NEWCODE-2222222-3333333-4444444"


async def test_certificate_verification_answers_browsers_with_a_localised_page(
    client: TestClient, world: World, database: Database
) -> None:
    fr = {"Accept": BROWSER, "Accept-Language": "fr"}
    valid = await client.get(f"/certificates/{world.certificate_code}", headers=fr)
    valid_html = await valid.text()
    replacement = await _supersede(database, world)
    superseded = await client.get(f"/certificates/{world.certificate_code}", headers=fr)
    superseded_html = await superseded.text()
    unknown = await client.get("/certificates/NO-SUCH-CODE", headers={"Accept": BROWSER})

    assert (valid.status, valid.content_type, _lang(valid_html)) == (200, "text/html", "fr")
    assert "Cette attestation est valide." in valid_html
    assert "Jeanne Durand" in valid_html
    assert superseded.status == 200
    assert "remplacée" in superseded_html
    assert f'href="/certificates/{replacement}"' in superseded_html
    assert (unknown.status, unknown.content_type, _lang(await unknown.text())) == (
        404,
        "text/html",
        "en",
    )


async def test_certificate_verification_answers_json_to_api_clients(
    client: TestClient, world: World, database: Database
) -> None:
    json = {"Accept": "application/json"}
    valid = await (await client.get(f"/certificates/{world.certificate_code}", headers=json)).json()
    replacement = await _supersede(database, world)
    superseded = await (
        await client.get(f"/certificates/{world.certificate_code.lower()}", headers=json)
    ).json()
    unknown = await client.get("/certificates/NO-SUCH-CODE", headers=json)

    assert (valid["valid"], valid["physician"]) == (True, "Jeanne Durand")
    assert (superseded["valid"], superseded["superseded_by"]) == (False, replacement)
    assert (unknown.status, unknown.content_type) == (404, "application/problem+json")


@pytest.mark.parametrize(
    ("who", "lang", "question", "done"),
    [
        ("jeanne", "fr", "Ne plus recevoir les rappels", "Vous ne recevrez plus de rappels"),
        ("paul", "en", "Stop reminder emails for", "You will no longer receive reminders"),
    ],
)
async def test_unsubscribe_pages_are_in_the_physicians_language_and_the_sites_layout(
    client: TestClient, world: World, who: str, lang: str, question: str, done: str
) -> None:
    link = f"/unsubscribe/{getattr(world, who).unsubscribe}"

    confirm = await client.get(link, headers={"Accept-Language": "de"})
    confirm_html = await confirm.text()
    stopped = await client.post(link, data={"List-Unsubscribe": "One-Click"})
    stopped_html = await stopped.text()

    assert (confirm.status, _lang(confirm_html)) == (200, lang)
    assert question in confirm_html
    assert '<form method="post">' in confirm_html
    assert "<header>" in confirm_html and "<style>" in confirm_html
    assert (stopped.status, _lang(stopped_html)) == (200, lang)
    assert done in stopped_html
    assert "Les lundis de la santé numérique" in stopped_html


async def test_an_unknown_unsubscribe_link_answers_a_localised_404_page(
    client: TestClient,
) -> None:
    response = await client.get("/unsubscribe/nope", headers={"Accept-Language": "fr"})
    html = await response.text()

    assert (response.status, response.content_type, _lang(html)) == (404, "text/html", "fr")
    assert "Lien inconnu" in html


# Property tests: hostile text on every page ----------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</textarea><script>alert(1)</script>",
    "</title><svg onload=alert(1)>",
    "{{ 7*7 }} {% raw %}",
    "a\r\nb\rc\nd",
    "line\u2028separator\u2029paragraph\x85next",
    "\x0b\x0c\x1b[31mred\x7f",
    "\u202eevil\u200b\ufeff",
    "ZWJ 👩‍⚕️ family 👨‍👩‍👧",
    "é" * 200,
    "x" * 20_000,
]
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(min_size=1, max_size=120),
    st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=1, max_size=40),
)
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "nav", "main", "a", "strong",
    "h1", "h2", "h3", "section", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
    "form", "input", "label", "textarea", "select", "option", "button", "script", "div",
    "figure", "figcaption", "svg", "rect", "line", "text", "g", "path", "polyline",
    "progress", "span", "dl", "dt", "dd", "code", "br", "fieldset", "legend", "time",
    "datalist", "details", "summary",  # the series form (issue 12)
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_safe_page(html: str, *values: str) -> None:
    """Only the templates' own tags, no event-handler attribute, and each value escaped."""
    parser = _Tags()
    parser.feed(html)
    names = {tag for tag, _ in parser.tags}
    scripts = [attrs.get("src") for tag, attrs in parser.tags if tag == "script"]
    handlers = [a for _, attrs in parser.tags for a in attrs if a.startswith("on")]
    assert names <= PAGE_TAGS, names - PAGE_TAGS
    assert set(scripts) <= {"/static/preview.js", "/static/copy.js"}
    assert handlers == []
    for value in values:
        assert str(escape(value)) in html


class Site:
    """The real app on a loopback server, driven from a synchronous test so that hypothesis
    can run many examples against one app and one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def __enter__(self) -> Site:
        async def start() -> tuple[TestClient, str]:
            database = Database(self.settings.database_url)
            _, token = await create_organizer(database, name="C", email="c@example.org")
            await database.close()
            client = TestClient(TestServer(create_app(self.settings)))
            await client.start_server()
            return client, token

        self.client, self.token = self.run(start())
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.org_cookie, self.org_csrf = self.run(organizer_session(self.client, self.token))
        return self

    def __exit__(self, *_: object) -> None:
        self.run(self.client.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    with Site(settings.model_copy(update={"auth_failure_limit": 100_000})) as running:
        yield running


PROPERTY = hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_hostile_series_text_renders_escaped_on_the_public_and_organiser_pages(
    site: Site,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT12:30:00")

    @PROPERTY
    @given(title=TEXT, description=TEXT)
    def check(title: str, description: str) -> None:
        async def example() -> None:
            created = await site.client.post(
                "/api/series",
                json={
                    "title": title,
                    "description": description,
                    "timezone": "Europe/Paris",
                    "start": start,
                    "duration_minutes": 60,
                    "rrule": "FREQ=WEEKLY;COUNT=2",
                    "join_url": "https://zoom.us/j/81234567890",
                },
                headers=site.auth,
            )
            assert created.status in (201, 422), await created.text()
            if created.status == 422:
                return
            series_id = (await created.json())["id"]
            stored = await (
                await site.client.get(f"/api/series/{series_id}", headers=site.auth)
            ).json()
            cookie = {"Cookie": site.org_cookie}
            for path, headers in (
                ("/", {}),
                ("/organizer", cookie),
                (f"/organizer/series/{series_id}", cookie),
            ):
                response = await site.client.get(path, headers=headers)
                assert response.status == 200, (path, await response.text())
                assert_safe_page(await response.text(), stored["title"])
            edit = await site.client.get(f"/organizer/series/{series_id}", headers=cookie)
            assert_safe_page(await edit.text(), stored["description"])

        site.run(example())

    check()


def test_hostile_physician_names_render_escaped_on_the_physician_and_organiser_pages(
    site: Site,
) -> None:
    start = datetime.now(UTC) - timedelta(hours=3)

    async def setup() -> int:
        created = await site.client.post(
            "/api/series",
            json={
                "title": "Les lundis",
                "timezone": "UTC",
                "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "duration_minutes": 60,
                "join_url": "https://zoom.us/j/81234567890",
            },
            headers=site.auth,
        )
        assert created.status == 201, await created.text()
        series = await created.json()
        rows = await site.client.get(f"/api/series/{series['id']}/occurrences", headers=site.auth)
        occurrence_id: int = (await rows.json())["items"][0]["id"]
        return occurrence_id

    occurrence_id = site.run(setup())
    counter = iter(range(1_000_000))

    @PROPERTY
    @given(first_name=TEXT, last_name=TEXT)
    def check(first_name: str, last_name: str) -> None:
        async def example() -> None:
            n = next(counter)
            created = await site.client.post(
                "/api/physicians",
                json={
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": f"p{n}@example.org",
                },
                headers=site.auth,
            )
            assert created.status in (201, 422), await created.text()
            if created.status == 422:
                return
            physician = await created.json()
            await site.client.post(
                "/api/attendance-events",
                json=[
                    {
                        "event_id": f"e{n}",
                        "occurrence_id": occurrence_id,
                        "physician_id": physician["id"],
                        "kind": "join",
                        "at": start.isoformat(),
                    }
                ],
                headers=site.auth,
            )
            signed_in = await site.client.get(f"/me/{physician['token']}", allow_redirects=False)
            own = await site.client.get(
                "/me", headers={"Cookie": f"{SESSION}={cookie_value(signed_in, SESSION)}"}
            )
            attendance = await site.client.get(
                f"/organizer/occurrences/{occurrence_id}", headers={"Cookie": site.org_cookie}
            )
            assert (own.status, attendance.status) == (200, 200)
            name = f"{physician['first_name']} {physician['last_name']}"
            assert_safe_page(await own.text(), physician["first_name"], physician["last_name"])
            assert_safe_page(await attendance.text(), name)
            assert hidden_csrf(await own.text()) != ""

        site.run(example())

    check()


SERIES_FIELDS = (
    "title",
    "description",
    "timezone",
    "start",
    "duration_minutes",
    "rrule",
    "join_url",
    "credit_max",
    "min_attendance_percent",
    "language",
    "zoom_webinar_id",
)
FORM_VALUE = st.one_of(
    TEXT,
    st.sampled_from(["", "0", "-1", "1e999", "nan", "2027-03-01T12:30", "Europe/Paris", "fr"]),
)


def test_hostile_series_forms_answer_a_page_never_a_500(site: Site) -> None:
    cookie = {"Cookie": site.org_cookie}

    async def make_series() -> int:
        created = await site.client.post(
            "/api/series",
            json={
                "title": "Les lundis",
                "timezone": "Europe/Paris",
                "start": (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT12:30:00"),
                "duration_minutes": 60,
                "join_url": "https://zoom.us/j/81234567890",
            },
            headers=site.auth,
        )
        series_id: int = (await created.json())["id"]
        return series_id

    series_id = site.run(make_series())

    @PROPERTY
    @given(form=st.dictionaries(st.sampled_from(SERIES_FIELDS), FORM_VALUE, max_size=11))
    def check(form: dict[str, str]) -> None:
        async def example() -> None:
            for action in ("/organizer/series", f"/organizer/series/{series_id}"):
                response = await site.client.post(
                    action,
                    data={**form, "csrf": site.org_csrf},
                    headers=cookie,
                    allow_redirects=False,
                )
                assert response.status in (303, 422), (action, response.status)
                if response.status == 422:
                    assert response.content_type == "text/html"
                    assert_safe_page(await response.text())

        site.run(example())

    check()
