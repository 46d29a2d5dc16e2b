"""Public iCalendar feeds, with ETag / Last-Modified and conditional GETs.

Every feed is served the same way (:func:`_serve`): a short first visit to the database finds
which series it shows and their version (:func:`feed_stamp`, two aggregate queries); a
conditional GET whose validators still match that version is answered 304 at once, and an
unchanged feed this process rendered before comes from its cache. Only a feed whose data
changed is loaded and rendered, and no database connection is held while it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import format_datetime

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.clock import utcnow
from schedules.errors import UnshowableDateError
from schedules.feeds import (
    FeedCache,
    FeedDocument,
    FeedValidators,
    content_time,
    feed_stamp,
    known_validators,
    load_entries,
    public_series_ids,
    settle_feed,
)
from schedules.ical import FeedMeta, build_occurrence_file, render_calendar
from schedules.models import Occurrence, Series
from schedules.series import get_public_series_by_slug
from tracker.domain import agenda
from tracker.domain.bounds import parse_id
from tracker.domain.physicians import physician_for_feed
from tracker.domain.registrations import registered_series_ids
from tracker.domain.tokens import FEED_PREFIX
from tracker.http.keys import DATABASE, MAIL, SETTINGS
from tracker.http.problems import HTTPProblem

FEED_CACHE = web.AppKey("feed_cache", FeedCache)


@dataclass(frozen=True)
class Feed:
    """One feed as a request selects it: what it shows and how it is served."""

    key: str
    series_ids: list[int]
    meta: FeedMeta
    filename: str
    private: bool


def _not_modified(request: web.Request, document: FeedValidators) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    if request.if_none_match is not None:
        return any(
            tag.value == "*" or f'"{tag.value}"' == document.etag for tag in request.if_none_match
        )
    since = request.if_modified_since
    return since is not None and document.last_modified <= since


def _headers(validators: FeedValidators, *, private: bool) -> dict[str, str]:
    headers = {
        "ETag": validators.etag,
        "Last-Modified": format_datetime(validators.last_modified, usegmt=True),
        "Cache-Control": ("private" if private else "public") + ", max-age=300",
    }
    if private:
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Robots-Tag"] = "noindex"
    return headers


def feed_response(
    request: web.Request, document: FeedDocument, *, filename: str, private: bool
) -> web.Response:
    headers = _headers(document, private=private)
    if _not_modified(request, document):
        return web.Response(status=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return web.Response(
        body=document.body, headers=headers, content_type="text/calendar", charset="utf-8"
    )


async def _freshness(session: AsyncSession, feed: Feed) -> tuple[str, FeedValidators | None]:
    """The feed's stamp, and the validators of its stored bytes if they are still current."""
    stamp = await feed_stamp(session, feed.series_ids, feed.meta)
    return stamp, await known_validators(session, feed.key, stamp)


async def _serve(
    request: web.Request, feed: Feed, stamp: str, known: FeedValidators | None
) -> web.Response:
    """304 from the stored validators, 200 from this process's cache, or load and render."""
    if known is not None and _not_modified(request, known):
        return web.Response(status=304, headers=_headers(known, private=feed.private))
    cache = request.app[FEED_CACHE]
    document = cache.get(feed.key, stamp)
    if document is None:
        database = request.app[DATABASE]
        async with database.session() as session:
            entries = await load_entries(session, feed.series_ids)
        body = render_calendar(entries, feed.meta)  # with no connection held
        async with database.session() as session:
            document = await settle_feed(
                session,
                key=feed.key,
                body=body,
                stamp=stamp,
                changed=content_time(entries),
                now=utcnow(),
            )
        cache.put(feed.key, stamp, document)
    return feed_response(request, document, filename=feed.filename, private=feed.private)


async def calendar_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].session() as session:
        meta = FeedMeta(
            name=f"{settings.provider_name} webinars",
            description="Every public webinar series",
            source_url=f"{settings.base_url}/calendar.ics",
            provider=settings.provider_name,
            credit_labels=request.app[MAIL].labels,  # seeded by migrations: read at start-up
        )
        feed = Feed("calendar", await public_series_ids(session), meta, "calendar.ics", False)
        stamp, known = await _freshness(session, feed)
    return await _serve(request, feed, stamp, known)


async def series_feed(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].session() as session:
        series = await get_public_series_by_slug(session, request.match_info["slug"])
        meta = FeedMeta(
            name=series.title,
            description=series.description,
            source_url=f"{settings.base_url}/series/{series.slug}.ics",
            provider=settings.provider_name,
            credit_labels=request.app[MAIL].labels,  # seeded by migrations: read at start-up
        )
        feed = Feed(f"series:{series.id}", [series.id or 0], meta, f"{series.slug}.ics", False)
        stamp, known = await _freshness(session, feed)
    return await _serve(request, feed, stamp, known)


async def personal_feed(request: web.Request) -> web.Response:
    """The series a physician is registered to; the URL's key is the only credential: the
    read-only feed key (``cal_…``), or the personal token of feed URLs handed out before."""
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    async with request.app[DATABASE].session() as session:
        physician = await physician_for_feed(session, token)
        if physician is None:
            raise HTTPProblem(404, "no such feed")
        title = "Mes webinaires" if physician.language == "fr" else "My webinars"
        meta = FeedMeta(
            name=f"{title} – {settings.provider_name}",
            description=f"{physician.first_name} {physician.last_name}",
            # RFC 7986 SOURCE: where this very feed is served, so its secret token too (the
            # feed is the physician's own; anyone holding it could fetch it again anyway).
            source_url=f"{settings.base_url}/feeds/{token}.ics",
            uid_seed=f"{settings.base_url}/feeds/{physician.id}.ics",
            provider=settings.provider_name,
            credit_labels=request.app[MAIL].labels,  # seeded by migrations: read at start-up
        )
        # the bytes name their own URL (SOURCE): one stored version per kind of key
        kind = "feed" if token.startswith(FEED_PREFIX) else "token"
        feed = Feed(
            f"physician:{physician.id}:{kind}",
            await registered_series_ids(session, physician.id or 0),
            meta,
            "webinars.ics",
            True,
        )
        stamp, known = await _freshness(session, feed)
    return await _serve(request, feed, stamp, known)


def occurrence_file_response(
    request: web.Request, occurrence: Occurrence, series: Series, *, private: bool
) -> web.Response:
    """One session as a ``.ics`` file to download and add to a calendar (404 for a session no
    calendar can show)."""
    settings = request.app[SETTINGS]
    meta = FeedMeta(
        name=series.title,
        description=series.description,
        source_url=f"{settings.base_url}/occurrences/{occurrence.id}.ics",
        provider=settings.provider_name,
        credit_labels=request.app[MAIL].labels,
    )
    try:
        body = build_occurrence_file(series, occurrence, meta)
    except UnshowableDateError:
        raise HTTPProblem(404, "this session cannot be shown in a calendar") from None
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{series.slug}-{occurrence.id}.ics"',
            "Cache-Control": "private, no-store" if private else "public, max-age=300",
        },
    )


async def occurrence_file(request: web.Request) -> web.Response:
    """One session of a public series as a ``.ics`` file (the public home's "add to calendar")."""
    occurrence_id = parse_id(request.match_info["id"])
    async with request.app[DATABASE].session() as session:
        found = (
            await agenda.public_occurrence(session, occurrence_id)
            if occurrence_id is not None
            else None
        )
    if found is None:
        raise HTTPProblem(404, "no such public session")
    return occurrence_file_response(request, *found, private=False)
