"""Series: create, edit, read. Every change re-materialises the occurrences (see occurrences.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slugify import slugify
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from schedules.errors import InvalidInputError, NotFoundError, StartOffRuleError
from schedules.models import Series, StoredCredit
from schedules.occurrences import Guard, Schedule, apply_schedule, plan_schedule
from schedules.recurrence import normalise_rule, resolve_timezone, rule_until, to_utc
from schedules.schemas import CreditDesignation, SeriesCreate, SeriesUpdate
from schedules.window import check_local, check_until

#: Fields that may be cleared with an explicit ``null`` in a PATCH.
NULLABLE_FIELDS = frozenset(
    {"rrule", "min_attendance_percent", "zoom_webinar_id", "pars_activity_id", "capacity"}
    | {"dpc_action_ref", "council_accreditation_ref"}
)
#: Fields no feed shows: their change leaves the series' sequence alone.
UNPUBLISHED_FIELDS = frozenset(
    {"registration", "capacity", "claim_required", "claim_window_days"}
    | {"dpc_action_ref", "council_accreditation_ref"}
)
#: Fields whose change moves occurrences.
SCHEDULE_FIELDS = frozenset({"timezone", "start_local", "duration_minutes", "rrule"})


def stored_credit(credit: CreditDesignation) -> StoredCredit:
    return StoredCredit(type=credit.type, max=credit.max)


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


async def _plan(
    *,
    rule: str | None,
    start_local: datetime,
    tz: ZoneInfo,
    now: datetime,
    new_start: bool = True,
    new_rule: bool = True,
) -> Schedule:
    """Check the given dates against the window and expand the schedule, writing nothing.

    Only dates being set now are checked: an old series may keep a start the window has left.
    A recurring series must start on a date of its rule (:class:`StartOffRuleError`).
    """
    if new_start:
        check_local("start", start_local, tz, now=now)
    if new_rule and rule is not None:
        check_until("rrule", rule_until(rule), now=now)
    schedule = await plan_schedule(rule=rule, start_local=start_local, tz=tz, now=now, strict=True)
    if (
        rule is not None
        and (new_start or new_rule)
        and schedule.starts[0] != to_utc(start_local, tz)
    ):
        raise StartOffRuleError(start_local, schedule.starts[0].astimezone(tz).replace(tzinfo=None))
    return schedule


async def create_series(
    session: AsyncSession, data: SeriesCreate, *, credit_types: Collection[str], now: datetime
) -> Series:
    """Validate, store and materialise a new series; the caller commits.

    Everything is checked and the rule expanded before the first write, so that a slow or
    refused rule never holds a write transaction (on SQLite, the database's single write lock).
    """
    tz = resolve_timezone(data.timezone)
    _check_credit_types(data.credits, credit_types)
    rule = normalise_rule(data.rrule, tz) if data.rrule else None
    schedule = await _plan(rule=rule, start_local=data.start, tz=tz, now=now)
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
        credits=[stored_credit(credit) for credit in data.credits],
        min_attendance_percent=data.min_attendance_percent,
        reminders=list(data.reminders),
        language=data.language,
        zoom_webinar_id=data.zoom_webinar_id,
        pars_activity_id=data.pars_activity_id,
        dpc_action_ref=data.dpc_action_ref,
        council_accreditation_ref=data.council_accreditation_ref,
        public=data.public,
        registration=data.registration,
        capacity=data.capacity,
        claim_required=data.claim_required,
        claim_window_days=data.claim_window_days,
        horizon_end=schedule.horizon_end,
        created_at=now,
        updated_at=now,
    )
    session.add(series)
    await session.flush()
    await apply_schedule(session, series, schedule, now=now)
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

    A new schedule is checked and expanded before the series is touched (nothing is written
    while a rule expands). ``guard`` names occurrences that hold data elsewhere: an edit that
    would remove one is refused with :class:`OccurrenceConflictError`.
    """
    series = await get_series(session, series_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE_FIELDS:
            raise InvalidInputError(field, "cannot be null")
    tz = resolve_timezone(changes.get("timezone", series.timezone))
    if data.credits is not None:
        _check_credit_types(data.credits, credit_types)
        changes["credits"] = [stored_credit(credit) for credit in data.credits]
    if changes.get("rrule"):
        changes["rrule"] = normalise_rule(changes["rrule"], tz)
    if "start" in changes:
        changes["start_local"] = changes.pop("start")
    changed = {field for field, value in changes.items() if getattr(series, field) != value}
    if not changed:
        return series
    schedule = None
    if changed & SCHEDULE_FIELDS:
        schedule = await _plan(
            rule=changes.get("rrule", series.rrule),
            start_local=changes.get("start_local", series.start_local),
            tz=tz,
            now=now,
            new_start="start_local" in changed,
            new_rule="rrule" in changed,
        )
    for field in changed:
        setattr(series, field, changes[field])
    if changed - UNPUBLISHED_FIELDS:
        series.sequence += 1
    series.updated_at = now
    if schedule is not None:
        await apply_schedule(session, series, schedule, now=now, guard=guard)
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
