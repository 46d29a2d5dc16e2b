"""Pages answer pages: a browser never sees raw JSON.

Every failure becomes a problem+json response in :mod:`tracker.http.problems`. This middleware sits
outside it and, when the request is a page's or the client prefers HTML, answers the same
status (and the headers that matter: ``Retry-After``, ``Allow``, ``WWW-Authenticate``) as a
localised page in the site's layout. API clients keep their problem+json.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tracker.http.pages.render import error_page
from tracker.http.problems import PROBLEM_TYPE

#: Set by the route guard on page routes: their errors are pages whatever the Accept header.
HTML_ERRORS = web.RequestKey("html_errors", bool)
KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate")
API_PREFIXES = ("/api/", "/webhooks/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _quality(accept: str, media_type: str) -> float:
    """The q Accept gives ``media_type`` by its most specific matching range (0 if none)."""
    main = media_type.split("/")[0]
    best, specificity = 0.0, -1
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        range_ = fields[0].lower()
        rank = {media_type: 2, f"{main}/*": 1, "*/*": 0}.get(range_)
        if rank is None or rank < specificity:
            continue
        q = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best, specificity = q, rank
    return best


def quality(accept: str, media_type: str) -> float:
    """The q ``Accept`` gives ``media_type`` (for handlers that negotiate other types)."""
    return _quality(accept, media_type)


def prefers_html(accept: str) -> bool:
    """True when ``Accept`` ranks HTML above JSON (a browser), not for ``*/*`` or none."""
    html = max(_quality(accept, "text/html"), _quality(accept, "application/xhtml+xml"))
    json = max(_quality(accept, "application/json"), _quality(accept, "application/problem+json"))
    return html > json


def prefers_json(accept: str) -> bool:
    """True when ``Accept`` ranks JSON above HTML (an API client asking for it), not for
    ``*/*`` or none."""
    html = max(_quality(accept, "text/html"), _quality(accept, "application/xhtml+xml"))
    json = max(_quality(accept, "application/json"), _quality(accept, "application/problem+json"))
    return json > html


def wants_html(request: web.Request) -> bool:
    if request.get(HTML_ERRORS, False):
        return True
    if request.path.startswith(API_PREFIXES):
        return False
    return prefers_html(request.headers.get("Accept", ""))


@web.middleware
async def html_error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if response.status < 400 or response.content_type != PROBLEM_TYPE:
        return response
    if not wants_html(request):
        return response
    page = error_page(request, response.status)
    for name in KEPT_HEADERS:
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return page
