"""Public iCalendar feeds, with ETag / Last-Modified and conditional GETs.

Every feed is served the same way (:func:`_serve`): a short first visit to the database finds
which series it shows and their version (:func:`feed_stamp`, two aggregate queries); a
conditional GET whose validators still match that version is answered 304 at once, and an
unchanged feed this process rendered before comes from its cache. Only a feed whose data
changed is loaded and rendered, and no database connection is held while it is rendered.
"""

from __future__ import annotations

import functools
from datetime import datetime
from email.utils import format_datetime

from aiohttp import hdrs, web
from multidict import CIMultiDict

from schedules.errors import UnshowableDateError
from schedules.feeds import (
    FeedCache,
    FeedDocument,
    FeedValidators,
)
from schedules.ical import build_occurrence_file
from schedules.models import Occurrence, Series
from tracker.domain.bounds import parse_id
from tracker.http.keys import SERVICES
from tracker.http.problems import HTTPProblem
from tracker.services import feeds

FEED_CACHE = web.AppKey("feed_cache", FeedCache)


def _not_modified(request: web.Request, document: FeedValidators) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match wins; If-Modified-Since only without it.

    A calendar sends back the ETag it was given, as it was given: that header is compared as it
    stands, and only another one is parsed (a quarter of a 304's handler went to parsing)."""
    sent = request.headers.get(hdrs.IF_NONE_MATCH)
    if sent == document.etag:
        return True
    if request.if_none_match is not None:
        return any(
            tag.value == "*" or f'"{tag.value}"' == document.etag for tag in request.if_none_match
        )
    since = request.if_modified_since
    return since is not None and document.last_modified <= since


@functools.lru_cache(maxsize=4096)
def _http_date(moment: datetime) -> str:
    """An HTTP date; remembered, as a feed's ``Last-Modified`` is answered again and again."""
    return format_datetime(moment, usegmt=True)


def _headers(validators: FeedValidators, *, private: bool) -> CIMultiDict[str]:
    """A feed's headers (a new copy: the 200 adds its own)."""
    return CIMultiDict(_validator_headers(validators.etag, validators.last_modified, private))


@functools.lru_cache(maxsize=4096)
def _validator_headers(etag: str, last_modified: datetime, private: bool) -> CIMultiDict[str]:
    """Remembered, as the same feed is answered again and again (never handed out: copied)."""
    headers = CIMultiDict(
        {
            "ETag": etag,
            "Last-Modified": _http_date(last_modified),
            "Cache-Control": ("private" if private else "public") + ", max-age=300",
        }
    )
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


async def _serve(request: web.Request, fresh: feeds.Freshness) -> web.Response:
    """304 from the stored validators, 200 from this process's cache, or load and render."""
    feed, stamp, known = fresh.feed, fresh.stamp, fresh.known
    if known is not None and _not_modified(request, known):
        return web.Response(status=304, headers=_headers(known, private=feed.private))
    cache = request.app[FEED_CACHE]
    document = cache.get(feed.key, stamp)
    if document is None:
        document = await feeds.render(request.app[SERVICES], feed, stamp)
        cache.put(feed.key, stamp, document)
    return feed_response(request, document, filename=feed.filename, private=feed.private)


async def calendar_feed(request: web.Request) -> web.Response:
    return await _serve(request, await feeds.calendar(request.app[SERVICES]))


async def series_feed(request: web.Request) -> web.Response:
    return await _serve(
        request, await feeds.series(request.app[SERVICES], request.match_info["slug"])
    )


async def personal_feed(request: web.Request) -> web.Response:
    """The series a physician is registered to; the URL's key is the only credential: the
    read-only feed key (``cal_…``), or the personal token of feed URLs handed out before."""
    fresh = await feeds.personal(request.app[SERVICES], request.match_info["token"])
    if fresh is None:
        raise HTTPProblem(404, "no such feed")
    return await _serve(request, fresh)


def occurrence_file_response(
    request: web.Request, occurrence: Occurrence, series: Series, *, private: bool
) -> web.Response:
    """One session as a ``.ics`` file to download and add to a calendar (404 for a session no
    calendar can show)."""
    meta = feeds.occurrence_meta(request.app[SERVICES], occurrence, series)
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
    found = (
        await feeds.public_occurrence(request.app[SERVICES], occurrence_id)
        if occurrence_id is not None
        else None
    )
    if found is None:
        raise HTTPProblem(404, "no such public session")
    return occurrence_file_response(request, *found, private=False)
