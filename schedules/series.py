"""Series: create, edit, read. Every change re-materialises the occurrences (see occurrences.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from slugify import slugify
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError
from schedules.models import Series
from schedules.occurrences import Guard, sync_occurrences
from schedules.recurrence import normalise_rule, resolve_timezone
from schedules.schemas import CreditDesignation, SeriesCreate, SeriesUpdate

#: Fields that may be cleared with an explicit ``null`` in a PATCH.
NULLABLE_FIELDS = frozenset({"rrule", "min_attendance_percent", "zoom_webinar_id"})
#: Fields whose change moves occurrences.
SCHEDULE_FIELDS = frozenset({"timezone", "start", "duration_minutes", "rrule"})


def _check_credit_types(credits: list[CreditDesignation], known: Collection[str]) -> None:
    unknown = sorted({credit.type for credit in credits} - set(known))
    if unknown:
        raise InvalidInputError(
            "credits",
            f"unknown credit type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
        )


async def _unique_slug(session: AsyncSession, title: str) -> str:
    base = slugify(title, max_length=80, word_boundary=True) or "series"
    taken = set(
        (await session.exec(select(Series.slug).where(col(Series.slug).startswith(base)))).all()
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


async def create_series(
    session: AsyncSession, data: SeriesCreate, *, credit_types: Collection[str], now: datetime
) -> Series:
    """Validate, store and materialise a new series; the caller commits."""
    tz = resolve_timezone(data.timezone)
    _check_credit_types(data.credits, credit_types)
    rule = normalise_rule(data.rrule, tz) if data.rrule else None
    series = Series(
        uid=f"{uuid.uuid4()}@cme-tracker",
        slug=await _unique_slug(session, data.title),
        title=data.title,
        description=data.description,
        timezone=data.timezone,
        start_local=data.start,
        duration_minutes=data.duration_minutes,
        rrule=rule,
        join_url=data.join_url,
        credits=[credit.model_dump() for credit in data.credits],
        min_attendance_percent=data.min_attendance_percent,
        reminders=list(data.reminders),
        language=data.language,
        zoom_webinar_id=data.zoom_webinar_id,
        public=data.public,
        horizon_end=now,
        created_at=now,
        updated_at=now,
    )
    session.add(series)
    await session.flush()
    await sync_occurrences(session, series, now=now, strict=True)
    return series


async def update_series(
    session: AsyncSession,
    series_id: int,
    data: SeriesUpdate,
    *,
    credit_types: Collection[str],
    now: datetime,
    guard: Guard | None = None,
) -> Series:
    """Apply the fields given in ``data``; occurrences that still exist keep their id.

    ``guard`` names occurrences that hold data elsewhere: an edit that would remove one is
    refused with :class:`OccurrenceConflictError`.
    """
    series = await get_series(session, series_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE_FIELDS:
            raise InvalidInputError(field, "cannot be null")
    tz = resolve_timezone(changes.get("timezone", series.timezone))
    if data.credits is not None:
        _check_credit_types(data.credits, credit_types)
        changes["credits"] = [credit.model_dump() for credit in data.credits]
    if changes.get("rrule"):
        changes["rrule"] = normalise_rule(changes["rrule"], tz)
    if "start" in changes:
        changes["start_local"] = changes.pop("start")
    changed = {field for field, value in changes.items() if getattr(series, field) != value}
    if not changed:
        return series
    for field in changed:
        setattr(series, field, changes[field])
    series.sequence += 1
    series.updated_at = now
    if changed & (SCHEDULE_FIELDS | {"start_local"}):
        await sync_occurrences(session, series, now=now, strict=True, guard=guard)
    return series


async def get_series(session: AsyncSession, series_id: int) -> Series:
    series = await session.get(Series, series_id)
    if series is None:
        raise NotFoundError("series", series_id)
    return series


async def get_public_series_by_slug(session: AsyncSession, slug: str) -> Series:
    series = (
        await session.exec(select(Series).where(Series.slug == slug, col(Series.public).is_(True)))
    ).first()
    if series is None:
        raise NotFoundError("series", slug)
    return series


async def list_series(session: AsyncSession) -> list[Series]:
    return list((await session.exec(select(Series).order_by(col(Series.id)))).all())
