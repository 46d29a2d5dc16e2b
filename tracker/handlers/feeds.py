"""Public iCalendar feeds, with ETag / Last-Modified and conditional GETs."""

from __future__ import annotations

from email.utils import format_datetime

from aiohttp import web

from schedules.clock import utcnow
from schedules.feeds import FeedDocument, load_entries, public_series_ids, render_feed
from schedules.ical import FeedMeta
from schedules.series import get_public_series_by_slug
from tracker.credit_types import credit_labels
from tracker.keys import DATABASE, SETTINGS
from tracker.physicians import physician_for_token
from tracker.problems import HTTPProblem
from tracker.registrations import registered_series_ids


def _not_modified(request: web.Request, document: FeedDocument) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    if request.if_none_match is not None:
        return any(
            tag.value == "*" or f'"{tag.value}"' == document.etag for tag in request.if_none_match
        )
    since = request.if_modified_since
    return since is not None and document.last_modified <= since


def feed_response(
    request: web.Request, document: FeedDocument, *, filename: str, private: bool
) -> web.Response:
    headers = {
        "ETag": document.etag,
        "Last-Modified": format_datetime(document.last_modified, usegmt=True),
        "Cache-Control": ("private" if private else "public") + ", max-age=300",
    }
    if private:
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Robots-Tag"] = "noindex"
    if _not_modified(request, document):
        return web.Response(status=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return web.Response(
        body=document.body, headers=headers, content_type="text/calendar", charset="utf-8"
    )


async def calendar_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].session() as session:
        entries = await load_entries(session, await public_series_ids(session))
        meta = FeedMeta(
            name=f"{settings.provider_name} webinars",
            description="Every public webinar series",
            source_url=f"{settings.base_url}/calendar.ics",
            provider=settings.provider_name,
            credit_labels=await credit_labels(session),
        )
        document = await render_feed(
            session, key="calendar", entries=entries, meta=meta, now=utcnow()
        )
    return feed_response(request, document, filename="calendar.ics", private=False)


async def series_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].session() as session:
        series = await get_public_series_by_slug(session, request.match_info["slug"])
        entries = await load_entries(session, [series.id or 0])
        meta = FeedMeta(
            name=series.title,
            description=series.description,
            source_url=f"{settings.base_url}/series/{series.slug}.ics",
            provider=settings.provider_name,
            credit_labels=await credit_labels(session),
        )
        document = await render_feed(
            session, key=f"series:{series.id}", entries=entries, meta=meta, now=utcnow()
        )
    return feed_response(request, document, filename=f"{series.slug}.ics", private=False)


async def personal_feed(request: web.Request) -> web.Response:
    """The series a physician is registered to; the URL's token is the only credential."""
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    async with request.app[DATABASE].session() as session:
        physician = await physician_for_token(session, token)
        if physician is None:
            raise HTTPProblem(404, "no such feed")
        entries = await load_entries(
            session, await registered_series_ids(session, physician.id or 0)
        )
        title = "Mes webinaires" if physician.language == "fr" else "My webinars"
        meta = FeedMeta(
            name=f"{title} – {settings.provider_name}",
            description=f"{physician.first_name} {physician.last_name}",
            # RFC 7986 SOURCE: where this very feed is served, so its secret token too (the
            # feed is the physician's own; anyone holding it could fetch it again anyway).
            source_url=f"{settings.base_url}/feeds/{token}.ics",
            uid_seed=f"{settings.base_url}/feeds/{physician.id}.ics",
            provider=settings.provider_name,
            credit_labels=await credit_labels(session),
        )
        document = await render_feed(
            session, key=f"physician:{physician.id}", entries=entries, meta=meta, now=utcnow()
        )
    return feed_response(request, document, filename="webinars.ics", private=True)
