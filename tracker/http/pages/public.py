"""Public pages: the home page, static files. Thin handlers: parse, call one service, render."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from schedules.clock import utcnow
from schedules.designation import designation_lines, designation_statement
from tracker.http.keys import MAIL, SERVICES, SETTINGS
from tracker.http.pages.calendar_links import session_item, subscribe_links
from tracker.http.pages.i18n import language
from tracker.http.pages.render import TEMPLATES, page
from tracker.services import series as series_service


async def home(request: web.Request) -> web.Response:
    lang = language(request)
    settings, mail = request.app[SETTINGS], request.app[MAIL]
    now = utcnow()
    programme = await series_service.public_upcoming(
        request.app[SERVICES], now=now, within=timedelta(days=60), per_series=6
    )
    items = []
    for series, upcoming in programme:
        statement = designation_statement(
            series.credits, provider=mail.provider, labels=mail.labels.of(lang), language=lang
        )
        items.append(
            {
                "id": series.id,
                "title": series.title,
                "page": f"/series/{series.slug}",
                "open": series.registration == "open",
                "description": series.description,
                "statement": designation_lines(
                    series.credits,
                    provider=mail.provider,
                    labels=mail.labels.of(lang),
                    language=lang,
                ),
                "subscribe": subscribe_links(
                    f"{settings.base_url}/series/{series.slug}.ics", name=series.title
                ),
                "upcoming": [
                    session_item(
                        o,
                        series,
                        timezone=series.timezone,
                        lang=lang,
                        now=now,
                        ics=f"/occurrences/{o.id}.ics",
                        statement=statement,
                    )
                    for o in upcoming
                ],
            }
        )
    return page(request, "home.html", series=items, lang=lang)


#: The few static files, read once (small; no file handle is held while serving).
STATIC = {
    path.name: path.read_bytes()
    for path in (TEMPLATES.parent / "static").iterdir()
    if path.suffix == ".js"
}


async def static_file(request: web.Request) -> web.StreamResponse:
    body = STATIC.get(request.match_info["name"])
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=body,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
