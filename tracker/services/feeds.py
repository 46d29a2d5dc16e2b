"""The three calendar feeds and the one-session files as read-only use cases.

A feed is served in two steps (the HTTP layer decides between them): :func:`calendar`,
:func:`series` or :func:`personal` find what the feed shows and its version in one short visit
to the database (:func:`schedules.feeds.feed_stamp`) with the validators of the bytes stored
for that version; only when those are not enough (no 304, nothing cached) does :func:`render`
load the entries, render them with no connection held, and store the new bytes' validators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection

from schedules.clock import utcnow
from schedules.errors import NotFoundError
from schedules.feeds import (
    FeedDocument,
    FeedValidators,
    content_time,
    feed_stamp,
    known_validators,
    load_entries,
    public_series_by_slug,
    public_series_ids,
    settle_feed,
)
from schedules.ical import FeedMeta, render_calendar
from schedules.models import Occurrence, Series
from tracker.domain import agenda, zoom
from tracker.domain.physicians import feed_owner
from tracker.domain.tokens import FEED_PREFIX
from tracker.services.context import Services


@dataclass(frozen=True)
class Feed:
    """One feed as a request selects it: what it shows and how it is served."""

    key: str
    series_ids: list[int]
    meta: FeedMeta
    filename: str
    private: bool


@dataclass(frozen=True)
class Freshness:
    """A feed, its current version, and the validators of its stored bytes when they are of
    that version (``None``: it must be rendered before anyone can be told it is unchanged)."""

    feed: Feed
    stamp: str
    known: FeedValidators | None


_Found = TypeVar("_Found", bound=Freshness | None)


def _meta(
    services: Services,
    *,
    name: str,
    description: str,
    path: str,
    uid_seed: str | None = None,
    join_urls: tuple[tuple[int, str], ...] = (),
) -> FeedMeta:
    settings = services.settings
    return FeedMeta(
        name=name,
        description=description,
        source_url=f"{settings.base_url}{path}",
        provider=settings.provider_name,
        credit_labels=services.mail.labels,  # seeded by migrations: read at start-up
        uid_seed=uid_seed,
        join_urls=join_urls,
    )


async def _remembered(
    services: Services, key: tuple[str, str], check: Callable[[Connection], _Found]
) -> _Found:
    """``check`` in one visit to the database, or what it found last time while this process
    has written nothing since and ``TRACKER_FEED_RECHECK_SECONDS`` have not passed (a calendar
    polls every few minutes or hours and the feed says ``max-age=300``: a change made by
    another process shows within those seconds, one made here at once)."""
    database, seconds = services.database, services.settings.feed_recheck_seconds
    generation = database.generation
    found: _Found | None = services.feeds_read.get(key, generation=generation, seconds=seconds)
    if found is None:
        found = await database.read(check)
        if found is not None:  # not what nobody holds: unknown keys are not kept
            services.feeds_read.put(key, found, generation=generation, seconds=seconds)
    return found


def _fresh(connection: Connection, feed: Feed) -> Freshness:
    stamp = feed_stamp(connection, feed.series_ids, feed.meta)
    return Freshness(feed, stamp, known_validators(connection, feed.key, stamp))


async def calendar(services: Services) -> Freshness:
    """Every public series."""
    meta = _meta(
        services,
        name=f"{services.settings.provider_name} webinars",
        description="Every public webinar series",
        path="/calendar.ics",
    )

    def check(connection: Connection) -> Freshness:
        ids = public_series_ids(connection)
        return _fresh(connection, Feed("calendar", ids, meta, "calendar.ics", False))

    return await _remembered(services, ("calendar", ""), check)


async def series(services: Services, slug: str) -> Freshness:
    """One public series; raises ``NotFoundError`` for a slug no public series has."""

    def check(connection: Connection) -> Freshness:
        found = public_series_by_slug(connection, slug)
        if found is None:
            raise NotFoundError("series", slug)
        meta = _meta(
            services,
            name=found.title,
            description=found.description,
            path=f"/series/{found.slug}.ics",
        )
        feed = Feed(f"series:{found.id}", [found.id], meta, f"{found.slug}.ics", False)
        return _fresh(connection, feed)

    return await _remembered(services, ("series", slug), check)


async def personal(services: Services, key: str) -> Freshness | None:
    """The series a physician is registered to; ``key`` is the only credential: the read-only
    feed key (``cal_…``), or the personal token of feed URLs handed out before. ``None`` when
    no physician holds it."""
    base_url = services.settings.base_url

    def check(connection: Connection) -> Freshness | None:
        found = feed_owner(connection, key)
        if found is None:
            return None
        physician, series_ids = found
        title = "Mes webinaires" if physician.language == "fr" else "My webinars"
        meta = _meta(
            services,
            name=f"{title} – {services.settings.provider_name}",
            description=f"{physician.first_name} {physician.last_name}",
            # RFC 7986 SOURCE: where this very feed is served, so its secret key too (the
            # feed is the physician's own; anyone holding it could fetch it again anyway).
            path=f"/feeds/{key}.ics",
            uid_seed=f"{base_url}/feeds/{physician.id}.ics",
            # their personal Zoom links (SPEC 8): a new one changes the stamp, so the feed too
            join_urls=tuple(sorted(zoom.links_of(connection, physician.id).items())),
        )
        # the bytes name their own URL (SOURCE): one stored version per kind of key
        kind = "feed" if key.startswith(FEED_PREFIX) else "token"
        feed = Feed(f"physician:{physician.id}:{kind}", series_ids, meta, "webinars.ics", True)
        return _fresh(connection, feed)

    return await _remembered(services, ("personal", key), check)


async def render(services: Services, feed: Feed, stamp: str) -> FeedDocument:
    """Load and render the feed (no connection held while rendering), then store the
    validators of the new bytes under ``stamp``."""
    async with services.database.session() as session:
        entries = await load_entries(session, feed.series_ids)
    body = render_calendar(entries, feed.meta)
    async with services.database.session() as session:
        return await settle_feed(
            session,
            key=feed.key,
            body=body,
            stamp=stamp,
            changed=content_time(entries),
            now=utcnow(),
        )


def occurrence_meta(services: Services, occurrence: Occurrence, series: Series) -> FeedMeta:
    """What a one-session ``.ics`` file says of itself."""
    return _meta(
        services,
        name=series.title,
        description=series.description,
        path=f"/occurrences/{occurrence.id}.ics",
    )


async def public_occurrence(
    services: Services, occurrence_id: int
) -> tuple[Occurrence, Series] | None:
    """One session of a public series (else ``None``)."""
    async with services.database.session() as session:
        return await agenda.public_occurrence(session, occurrence_id)


async def registered_occurrence(
    services: Services, physician_id: int, occurrence_id: int
) -> tuple[Occurrence, Series] | None:
    """One session of a series the physician is registered to (else ``None``)."""
    async with services.database.session() as session:
        return await agenda.registered_occurrence(session, physician_id, occurrence_id)
