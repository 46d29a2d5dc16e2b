"""Rendering pages: one Jinja2 environment, security headers on every page, CSRF checks."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from schedules import limits
from tracker.domain.models import WebSession
from tracker.http.keys import SETTINGS
from tracker.http.pages.i18n import language, plural, translator
from tracker.http.pages.sessions import csrf_ok, organizer_csrf
from tracker.http.parsing import read_form

TEMPLATES = Path(__file__).resolve().parent / "templates"
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: Forms give the same ``maxlength`` as the columns and the API (declared once, in limits).
_environment.globals["limits"] = limits
#: Every HTML response carries these (set in one place, :func:`security_headers`).
HTML_SECURITY_HEADERS = {
    # Tokens never travel in Referer: pages holding one are never linked from, and no page sends it.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
}


async def security_headers(_request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every response is ``nosniff``; every HTML response, whoever
    made it (a page, an error page, a handler writing HTML by hand), cannot be framed, sends
    no Referer and is not cached unless it says otherwise."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.content_type == "text/html":
        response.headers.update(HTML_SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")


#: A label's colon: French typography puts a no-break space before it.
COLONS = {"fr": "\u00a0:", "en": ":"}


def page(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    lang: str | None = None,
    **context: Any,
) -> web.Response:
    chosen = lang or language(request)
    html = _environment.get_template(template).render(
        t=translator(chosen),
        plural=functools.partial(plural, chosen),
        lang=chosen,
        other_lang="en" if chosen == "fr" else "fr",
        colon=COLONS[chosen],
        path=request.path,
        organizer_csrf=organizer_csrf(request),
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    if request.query.get("lang") in ("fr", "en"):
        response.set_cookie(
            "lang", chosen, max_age=365 * 86400, samesite="Lax", httponly=True, path="/"
        )
    return response


def render_text(request: web.Request, template: str, **context: Any) -> str:
    """A template as text, with the context :func:`page` gives (for a page written in parts)."""
    chosen = language(request)
    return _environment.get_template(template).render(
        t=translator(chosen),
        plural=functools.partial(plural, chosen),
        lang=chosen,
        other_lang="en" if chosen == "fr" else "fr",
        colon=COLONS[chosen],
        path=request.path,
        organizer_csrf=organizer_csrf(request),
        **context,
    )


def message_page(
    request: web.Request,
    heading: str,
    text: str,
    *,
    status: int = 200,
    lang: str | None = None,
    **extra: Any,
) -> web.Response:
    """A page that says one thing (a heading and a paragraph), shown as an error from 400 on;
    ``extra`` for ``message.html`` (``sign_in_form``, its error and value)."""
    return page(
        request,
        "message.html",
        status=status,
        lang=lang,
        heading=heading,
        text=text,
        error=status >= 400,
        **extra,
    )


def error_page(request: web.Request, status: int) -> web.Response:
    """A localised page for an error ``status`` (the layout, the language, the status kept)."""
    t = translator(language(request))
    return message_page(
        request,
        t["error.title"].format(status=status),
        t.get(f"error.{status}", t["error.other"]),
        status=status,
        # not signed in on a physician's page: the way back is a sign-in link by email
        sign_in_form=status == 401 and request.path.startswith("/me"),
    )


async def form_with_csrf(request: web.Request, row: WebSession) -> dict[str, str]:
    """The posted form, after checking its CSRF token (403 otherwise)."""
    values = dict((await read_form(request)).items())
    if not csrf_ok(row, values.get("csrf")):
        raise web.HTTPForbidden(
            text="the form is stale or forged (CSRF check failed); reload the page"
        )
    return values


def secure_cookies(request: web.Request) -> bool:
    """Cookies carry ``Secure`` when the service is served over HTTPS."""
    return request.app[SETTINGS].base_url.startswith("https://")
