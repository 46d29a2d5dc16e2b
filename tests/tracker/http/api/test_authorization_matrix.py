"""Who may do what: every route and every kind of credential, against one readable table.

pytestmark = pytest.mark.any_engine

Columns: no credential, a malformed one, a revoked one (a physician token rotated away, or a
browser session opened with it), the organiser's, a physician's (Jeanne, who attended the past
session and holds its certificate) and another physician's (Paul, registered, attended nothing).

How a credential is presented depends on the route:
- ``api``: ``Authorization: Bearer <token>`` (malformed: ``Bearer`` alone);
- ``page``: the browser session cookie of the holder, with the CSRF token of its own pages in
  forms (malformed: a cookie that names no session);
- ``secret``: the secret is in the path (``/me/<token>``, ``/feeds/<token>.ics``, unsubscribe
  links): the holder's own token or unsubscribe link; none: an empty segment;
- ``login``: the token typed into the organiser sign-in form (with the form's CSRF token).

Routes acting on a physician use a third one (Zoé, the "target"). Adding a route to
``tracker.http.routes.ROUTES`` without a row here fails :func:`test_the_table_covers_every_route`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from tests.tracker.security_world import (
    LOGIN_COOKIE,
    World,
    build_world,
    cookie_value,
    hidden_csrf,
    physician_session,
)
from tracker.app import create_app
from tracker.db import Database
from tracker.http.routes import ROUTES
from tracker.settings import Settings

Style = Literal["api", "page", "secret", "login"]
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
COLUMNS = ("none", "malformed", "revoked", "organiser", "physician", "other physician")


@dataclass(frozen=True)
class Row:
    style: Style
    path: str  # {series} {slug} {past} {future} {target} {jeanne} {requirement} {outbox} {event}
    #            {code} are the world's; {secret} is the credential itself (style "secret")
    expected: tuple[int, int, int, int, int, int]
    body: Any = None  # JSON for "api", form fields for "page" (the CSRF token is added)
    spends: bool = False  # the call rotates or ends the physicians' credentials
    unsubscribe: bool = False  # for "secret": the holder's unsubscribe link, not their token


def api(path: str, *expected: int, body: Any = None, spends: bool = False) -> Row:
    return Row("api", path, expected, body, spends)  # type: ignore[arg-type]


def page(
    path: str, *expected: int, form: dict[str, str] | None = None, spends: bool = False
) -> Row:
    return Row("page", path, expected, form, spends)  # type: ignore[arg-type]


def secret(path: str, *expected: int, unsubscribe: bool = False) -> Row:
    return Row("secret", path, expected, unsubscribe=unsubscribe)  # type: ignore[arg-type]


def everyone(style: Style, path: str, status: int, body: Any = None) -> Row:
    return Row(style, path, (status,) * 6, body)


ORG_ONLY = (401, 401, 401)  # none, malformed, revoked
SIGNED_OUT = (303, 303, 303)  # organiser pages send everyone else to the sign-in form
NO_SESSION = (401, 401, 401, 401)  # physician pages: none, malformed, revoked, organiser

# fmt: off
TABLE: dict[tuple[str, str], Row] = {
    #                                                                    none  malf  revk  org  phys other
    ("GET", "/healthz"): everyone("api", "/healthz", 200),
    ("GET", "/openapi.json"): everyone("api", "/openapi.json", 200),
    ("POST", "/api/series"): api("/api/series", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/series"): api("/api/series", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/series/{id}"): api("/api/series/{series}", *ORG_ONLY, 200, 401, 401),
    ("PATCH", "/api/series/{id}"): api("/api/series/{series}", *ORG_ONLY, 200, 401, 401, body={}),
    ("GET", "/api/series/{id}/occurrences"):
        api("/api/series/{series}/occurrences", *ORG_ONLY, 200, 401, 401),
    ("PATCH", "/api/occurrences/{id}"):
        api("/api/occurrences/{future}", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/occurrences/{id}/attendance"):
        api("/api/occurrences/{past}/attendance", *ORG_ONLY, 200, 401, 401),
    ("POST", "/api/physicians"): api("/api/physicians", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/physicians"): api("/api/physicians", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/physicians/{id}"): api("/api/physicians/{target}", *ORG_ONLY, 200, 401, 401),
    ("PATCH", "/api/physicians/{id}"):
        api("/api/physicians/{target}", *ORG_ONLY, 200, 401, 401, body={}),
    ("POST", "/api/physicians/{id}/token"):
        api("/api/physicians/{target}/token", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/physicians/{id}/credits"):
        api("/api/physicians/{target}/credits", *ORG_ONLY, 200, 401, 401),
    ("POST", "/api/physicians/{id}/requirements"):
        api("/api/physicians/{target}/requirements", *ORG_ONLY, 422, 401, 401, body={}),
    ("DELETE", "/api/physicians/{id}/requirements/{requirement_id}"):
        api("/api/physicians/{target}/requirements/{requirement}", *ORG_ONLY, 204, 401, 401),
    ("POST", "/api/series/{id}/registrations"):
        api("/api/series/{series}/registrations", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/series/{id}/registrations"):
        api("/api/series/{series}/registrations", *ORG_ONLY, 200, 401, 401),
    ("DELETE", "/api/series/{id}/registrations/{physician_id}"):
        api("/api/series/{series}/registrations/{target}", *ORG_ONLY, 204, 401, 401),
    ("POST", "/api/attendance-events"):
        api("/api/attendance-events", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/attendance-events/unmatched"):
        api("/api/attendance-events/unmatched", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/exports/completions.csv"):
        api("/api/exports/completions.csv", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/exports/completions.txt"):
        api("/api/exports/completions.txt", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/me"): api("/api/me", *ORG_ONLY, 401, 200, 200),
    ("GET", "/api/me/credits"): api("/api/me/credits", *ORG_ONLY, 401, 200, 200),
    ("GET", "/api/me/awards/{occurrence_id}"):
        api("/api/me/awards/{past}", *ORG_ONLY, 401, 200, 404),
    ("POST", "/api/me/token"): api("/api/me/token", *ORG_ONLY, 401, 200, 200, spends=True),
    ("POST", "/webhooks/zoom"): everyone("api", "/webhooks/zoom", 401, body={}),
    ("GET", "/api/outbox"): api("/api/outbox", *ORG_ONLY, 200, 401, 401),
    ("POST", "/api/outbox/{id}/retry"): api("/api/outbox/{outbox}/retry", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/me/certificates/{occurrence_id}.pdf"):
        api("/api/me/certificates/{past}.pdf", *ORG_ONLY, 401, 200, 404),
    ("GET", "/certificates/{code}"): everyone("api", "/certificates/{code}", 200),
    ("GET", "/unsubscribe/{token}"):
        secret("/unsubscribe/{secret}", 404, 404, 404, 404, 200, 200, unsubscribe=True),
    ("POST", "/unsubscribe/{token}"):
        secret("/unsubscribe/{secret}", 404, 404, 404, 404, 200, 200, unsubscribe=True),
    ("GET", "/calendar.ics"): everyone("api", "/calendar.ics", 200),
    ("GET", "/series/{slug}.ics"): everyone("api", "/series/{slug}.ics", 200),
    ("GET", "/feeds/{token}.ics"): secret("/feeds/{secret}.ics", 404, 404, 404, 404, 200, 200),
    ("GET", "/occurrences/{id}.ics"): everyone("api", "/occurrences/{past}.ics", 200),
    ("GET", "/me/occurrences/{occurrence_id}.ics"):
        page("/me/occurrences/{future}.ics", *NO_SESSION, 200, 200),
    ("GET", "/"): everyone("page", "/", 200),
    ("GET", "/static/{name}"): everyone("page", "/static/preview.js", 200),
    ("GET", "/me/{token}"): secret("/me/{secret}", 404, 404, 404, 404, 303, 303),
    ("GET", "/me"): page("/me", *NO_SESSION, 200, 200),
    ("GET", "/me/certificates/{occurrence_id}.pdf"):
        page("/me/certificates/{past}.pdf", *NO_SESSION, 200, 404),
    ("POST", "/me/preferences"): page("/me/preferences", *NO_SESSION, 303, 303, form={}),
    ("POST", "/me/token"): page("/me/token", *NO_SESSION, 200, 200, form={}, spends=True),
    ("POST", "/me/signout"): page("/me/signout", *NO_SESSION, 303, 303, form={}, spends=True),
    ("GET", "/organizer/login"): everyone("page", "/organizer/login", 200),
    ("POST", "/organizer/login"): Row("login", "/organizer/login", (401, 401, 401, 303, 401, 401)),
    ("GET", "/organizer"): page("/organizer", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/series"): page("/organizer/series", *SIGNED_OUT, 422, 303, 303, form={}),
    ("GET", "/organizer/preview"): page("/organizer/preview", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/series/{id}"):
        page("/organizer/series/{series}", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/series/{id}"):
        page("/organizer/series/{series}", *SIGNED_OUT, 422, 303, 303, form={}),
    ("POST", "/organizer/occurrences/{id}"):
        page("/organizer/occurrences/{future}", *SIGNED_OUT, 303, 303, 303, form={"action": "restore"}),
    ("GET", "/organizer/occurrences/{id}"):
        page("/organizer/occurrences/{past}", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/physicians"): page("/organizer/physicians", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/unmatched"): page("/organizer/unmatched", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/unmatched/{id}"):
        page("/organizer/unmatched/{event}", *SIGNED_OUT, 422, 303, 303, form={"email": "nobody@example.org"}),
    ("GET", "/organizer/outbox"): page("/organizer/outbox", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/outbox/{id}/retry"):
        page("/organizer/outbox/{outbox}/retry", *SIGNED_OUT, 303, 303, 303, form={}),
    # Zoom account (issue 13): not configured here, so the POST goes back to the page
    ("GET", "/organizer/occurrences/{id}/zoom"):
        page("/organizer/occurrences/{past}/zoom", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/occurrences/{id}/zoom"):
        page("/organizer/occurrences/{past}/zoom", *SIGNED_OUT, 303, 303, 303, form={}),
    # sign-in links (issue 10): anyone may ask; a link is the credential, the session is not
    ("POST", "/api/sign-in-links"): everyone("api", "/api/sign-in-links", 422, body={}),
    ("GET", "/sign-in"): everyone("page", "/sign-in", 200),
    ("POST", "/sign-in"): everyone("page", "/sign-in", 422, body={}),
    ("GET", "/signed-out"): everyone("page", "/signed-out", 200),
    ("GET", "/me/sign-in/{code}"): everyone("page", "/me/sign-in/{code}", 404),
    ("POST", "/me/sign-in/{code}"): everyone("page", "/me/sign-in/{code}", 403, body={}),
    # self-registration (the world's series is closed: its form and API refuse alike, 409)
    ("POST", "/api/series/{id}/self-registrations"):
        everyone("api", "/api/series/{series}/self-registrations", 409, body={"first_name": "A", "last_name": "B", "email": "a@example.org"}),
    ("GET", "/api/series/{id}/self-registrations"):
        api("/api/series/{series}/self-registrations", *ORG_ONLY, 200, 401, 401),
    ("GET", "/series/{slug}"): everyone("page", "/series/{slug}", 200),
    ("POST", "/series/{slug}"): everyone("page", "/series/{slug}", 409, body={}),
    ("GET", "/registration/{code}"): everyone("page", "/registration/{code}", 404),
    ("POST", "/registration/{code}"): everyone("page", "/registration/{code}", 404, body={}),
    ("POST", "/me/waitlist/{series_id}/leave"):
        page("/me/waitlist/{series}/leave", *NO_SESSION, 303, 303, form={}),
    # claims and evaluations (issue 11): the claim link is the credential, the session is not
    ("GET", "/api/series/{id}/evaluation"):
        api("/api/series/{series}/evaluation", *ORG_ONLY, 200, 401, 401),
    ("PUT", "/api/series/{id}/evaluation"):
        api("/api/series/{series}/evaluation", *ORG_ONLY, 422, 401, 401, body={}),
    ("GET", "/api/occurrences/{id}/evaluation"):
        api("/api/occurrences/{past}/evaluation", *ORG_ONLY, 200, 401, 401),
    ("GET", "/api/occurrences/{id}/evaluation.csv"):
        api("/api/occurrences/{past}/evaluation.csv", *ORG_ONLY, 200, 401, 401),
    ("GET", "/claims/{code}"): everyone("page", "/claims/{code}", 404),
    ("POST", "/claims/{code}"): everyone("page", "/claims/{code}", 404, body={}),
    ("GET", "/organizer/series/{id}/evaluation"):
        page("/organizer/series/{series}/evaluation", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/series/{id}/evaluation"):
        page("/organizer/series/{series}/evaluation", *SIGNED_OUT, 303, 303, 303, form={}),
    ("POST", "/organizer/series/{id}/claims"):
        page("/organizer/series/{series}/claims", *SIGNED_OUT, 422, 303, 303, form={}),
    ("GET", "/organizer/occurrences/{id}/evaluation"):
        page("/organizer/occurrences/{past}/evaluation", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/occurrences/{id}/evaluation.csv"):
        page("/organizer/occurrences/{past}/evaluation.csv", *SIGNED_OUT, 200, 303, 303),
    # verifiable certificates (issue 11, points 4 and 5)
    ("GET", "/api/me/certificates/{occurrence_id}.json"):
        api("/api/me/certificates/{past}.json", *ORG_ONLY, 401, 200, 404),
    ("GET", "/me/certificates/{occurrence_id}.json"):
        page("/me/certificates/{past}.json", *NO_SESSION, 200, 404),
    # after the rows that download Jeanne's certificate: a revoked one is no longer handed out
    ("POST", "/api/certificates/{code}/revocation"):
        api("/api/certificates/{code}/revocation", *ORG_ONLY, 200, 401, 401),
    ("GET", "/.well-known/did.json"): everyone("api", "/.well-known/did.json", 200),
    ("GET", "/did.json"): everyone("api", "/did.json", 200),
    ("GET", "/credentials/status/{number}"): everyone("api", "/credentials/status/1", 200),
    # credit receipts (issue 11 point 7): one's own; organisers any physician's
    ("GET", "/me/receipts/{occurrence_id}"): page("/me/receipts/{past}", *NO_SESSION, 200, 404),
    ("GET", "/organizer/occurrences/{id}/receipts/{physician_id}"):
        page("/organizer/occurrences/{past}/receipts/{jeanne}", *SIGNED_OUT, 200, 303, 303),
    # issue 12: organiser console
    ("POST", "/organizer/physicians"): page("/organizer/physicians", *SIGNED_OUT, 422, 303, 303, form={}),
    ("GET", "/organizer/physicians/{id}"):
        page("/organizer/physicians/{target}", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/physicians/{id}"):
        page("/organizer/physicians/{target}", *SIGNED_OUT, 303, 303, 303, form={"action": "sign_in_link"}),
    ("GET", "/organizer/import"): page("/organizer/import", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/import"): page("/organizer/import", *SIGNED_OUT, 400, 303, 303, form={}),
    ("POST", "/organizer/series/{id}/registrations"):
        page("/organizer/series/{series}/registrations", *SIGNED_OUT, 303, 303, 303, form={}),
    ("GET", "/organizer/occurrences/{id}/attendance.csv"):
        page("/organizer/occurrences/{past}/attendance.csv", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/exports"): page("/organizer/exports", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/unmatched/group"):
        page("/organizer/unmatched/group", *SIGNED_OUT, 400, 303, 303, form={}),
    ("POST", "/organizer/outbox/retry-failed"):
        page("/organizer/outbox/retry-failed", *SIGNED_OUT, 303, 303, 303, form={}),
    ("GET", "/organizer/exports/completions.csv"):
        page("/organizer/exports/completions.csv", *SIGNED_OUT, 200, 303, 303),
    ("GET", "/organizer/exports/completions.txt"):
        page("/organizer/exports/completions.txt", *SIGNED_OUT, 200, 303, 303),
    # revoking a certificate from the console (a physician cannot)
    ("GET", "/organizer/certificates/{code}/revoke"):
        page("/organizer/certificates/{code}/revoke", *SIGNED_OUT, 200, 303, 303),
    ("POST", "/organizer/certificates/{code}/revoke"):
        page("/organizer/certificates/{code}/revoke", *SIGNED_OUT, 303, 303, 303, form={}),
    # last: it takes the physicians off the world's series
    ("POST", "/me/registrations/{series_id}/unregister"):
        page("/me/registrations/{series}/unregister", *NO_SESSION, 303, 303, form={}),
    # very last: it ends the organiser's session
    ("POST", "/organizer/signout"): page("/organizer/signout", *SIGNED_OUT, 303, 303, 303, form={}),
}
# fmt: on


def test_the_table_covers_every_route() -> None:
    routes = {(route.method, route.path) for route in ROUTES}

    assert set(TABLE) ^ routes == set()
    assert all(len(row.expected) == len(COLUMNS) for row in TABLE.values())


def _fill(path: str, w: World) -> str:
    return path.format(
        series=w.series_id,
        slug=w.slug,
        past=w.past_occurrence_id,
        future=w.future_occurrence_id,
        target=w.target.id,
        jeanne=w.jeanne.id,
        requirement=w.requirement_id,
        outbox=w.outbox_id,
        event=w.unmatched_event_id,
        code=w.certificate_code,
        secret="{secret}",
    )


async def _call(client: TestClient, w: World, method: str, row: Row, column: str) -> Any:
    path = _fill(row.path, w)
    people = {"physician": w.jeanne, "other physician": w.paul}
    headers: dict[str, str] = {}
    if row.style == "api":
        header = {
            "none": None,
            "malformed": "Bearer",
            "revoked": f"Bearer {w.revoked_token}",
            "organiser": f"Bearer {w.organizer_token}",
        }.get(column, f"Bearer {people[column].token}" if column in people else None)
        if header:
            headers["Authorization"] = header
        return await client.request(
            method, path, json=row.body, headers=headers, allow_redirects=False
        )
    if row.style == "secret":
        value = {
            "none": "",
            "malformed": "not%20a%20token",
            "revoked": w.revoked_token,
            "organiser": w.organizer_token,
        }.get(column, "")
        if column in people:
            holder = people[column]
            value = holder.unsubscribe if row.unsubscribe else holder.token
        return await client.request(
            method, path.replace("{secret}", value), headers=BROWSER, allow_redirects=False
        )
    if row.style == "login":
        form = await client.get("/organizer/login")
        typed = {
            "none": None,
            "malformed": "not a token",
            "revoked": w.revoked_token,
            "organiser": w.organizer_token,
        }.get(column, people[column].token if column in people else None)
        data = {"csrf": hidden_csrf(await form.text())}
        if typed is not None:
            data["token"] = typed
        return await client.post(
            path,
            data=data,
            headers={"Cookie": f"{LOGIN_COOKIE}={cookie_value(form, LOGIN_COOKIE)}"},
            allow_redirects=False,
        )
    cookie, csrf = {
        "none": ("", ""),
        "malformed": ("tracker_session=not-a-session", ""),
        "revoked": (w.revoked_cookie, ""),
        "organiser": (w.organizer_cookie, w.organizer_csrf),
    }.get(column, ("", ""))
    if column in people:
        cookie, csrf = people[column].cookie, people[column].csrf
    headers.update(BROWSER)
    if cookie:
        headers["Cookie"] = cookie
    posted = {**row.body, "csrf": csrf} if row.body is not None else None
    return await client.request(method, path, data=posted, headers=headers, allow_redirects=False)


async def _renew_physicians(client: TestClient, w: World) -> None:
    """After a row that rotates or ends their credentials: new tokens, new sessions."""
    for person in (w.jeanne, w.paul):
        rotated = await client.post(
            f"/api/physicians/{person.id}/token",
            headers={"Authorization": f"Bearer {w.organizer_token}"},
        )
        person.token = (await rotated.json())["token"]
        person.cookie, person.csrf = await physician_session(client, person.token)


async def test_every_route_answers_every_credential_as_the_table_says(
    aiohttp_client: Any,
    settings: Settings,
    auth: dict[str, str],
    database: Database,
    scheduler: Any,
) -> None:
    app = create_app(
        settings.model_copy(
            # Failed credentials are the point here: the rate limit is tested elsewhere.
            update={"auth_failure_limit": 100_000, "zoom_webhook_secret": SecretStr("zoom")}
        )
    )
    client: TestClient = await aiohttp_client(app)
    world = await build_world(client, auth, database, scheduler)
    pages = {(r.method, r.path) for r in ROUTES if r.response == "text/html"}

    wrong: list[str] = []
    for (method, route), row in TABLE.items():
        for column, expected in zip(COLUMNS, row.expected, strict=True):
            response = await _call(client, world, method, row, column)
            if response.status != expected:
                wrong.append(f"{method} {route} [{column}]: {response.status}, not {expected}")
            if (method, route) in pages and response.content_type == "application/problem+json":
                wrong.append(f"{method} {route} [{column}]: a page answered raw JSON")
        if row.spends:
            await _renew_physicians(client, world)

    assert wrong == [], "\n".join(wrong)
