"""The Zoom account integration's use cases (SPEC 8): keeping registrants in step, and reading
an occurrence's participant report into facts.

Registrants are synced behind the registrations' answers: a registration never waits for Zoom,
nor fails when Zoom is down; the rows say what is left to do and why the last attempt failed.
A reconciliation records the report's stays through the same path as the webhooks
(:func:`tracker.services.ingestion.record`): duplicates change nothing, the awards they touch
are recomputed, and a changed final award's certificate is re-issued
(:func:`tracker.services.ingestion.project_soon`, then ``projections.certify_closed``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from schedules.clock import utcnow
from schedules.errors import NotFoundError
from schedules.models import Occurrence, Series
from tracker.adapters.zoom_participants import ReadRows, participant_events
from tracker.domain import zoom as rows
from tracker.domain.attendance import MATCH_WINDOW
from tracker.errors import ZoomAPIError, ZoomNotConfiguredError
from tracker.services import ingestion
from tracker.services.context import Services
from tracker.zoom.client import REGISTRANT_BATCH, Registrant, ZoomClient

log = logging.getLogger(__name__)

#: How long a claim on registrants or a run lasts (a killed process's claims run out).
LEASE = timedelta(minutes=5)
#: Facts recorded per transaction.
CHUNK = 2000


def _owner() -> str:
    return uuid.uuid4().hex


# Registrants ---------------------------------------------------------------------------------


@dataclass
class Synced:
    added: int = 0
    cancelled: int = 0
    failed: int = 0


async def sync_registrants(services: Services, zoom: ZoomClient, *, budget: float = 50.0) -> Synced:
    """Add new registrants and cancel old ones, 30 per Zoom call, until nothing is due or
    ``budget`` seconds have passed (the next run goes on). A physician whose email or name
    changed is cancelled at Zoom under the old one, then added under the new one in a later
    claim of the same run (Zoom has no registrant update): a new personal link."""
    result = Synced()
    owner = _owner()
    async with services.database.session() as session:
        await rows.plan_registrants(session, now=utcnow())
        await session.commit()
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        async with services.database.session() as session:
            work = await rows.claim_registrants(session, owner=owner, now=utcnow(), lease=LEASE)
            await session.commit()
        if not work:
            break
        for group in work:
            for start in range(0, len(group.rows), REGISTRANT_BATCH):
                batch = group.rows[start : start + REGISTRANT_BATCH]
                await _sync_batch(services, zoom, group.webinar_id, group.action, batch, result)
    return result


async def _sync_batch(
    services: Services,
    zoom: ZoomClient,
    webinar_id: str,
    action: str,
    batch: list[tuple[int, str, str, str, str | None]],
    result: Synced,
) -> None:
    ids = [row_id for row_id, *_ in batch]
    try:
        if action == "add":
            added = await zoom.add_registrants(
                webinar_id, [Registrant(email, first, last) for _, email, first, last, _ in batch]
            )
            by_email = {a.email: a for a in added}
            done = [
                (row_id, by_email[email.lower()].registrant_id, by_email[email.lower()].join_url)
                for row_id, email, *_ in batch
                if email.lower() in by_email
            ]
            missing = [row_id for row_id, email, *_ in batch if email.lower() not in by_email]
            async with services.database.session() as session:
                await rows.registrants_added(session, done, now=utcnow())
                await rows.registrants_failed(
                    session, missing, "Zoom's answer did not list this registrant", now=utcnow()
                )
                await session.commit()
            result.added += len(done)
            result.failed += len(missing)
        else:  # cancel, or replace: cancel the registrant Zoom holds, then add again
            people = [(registrant, email) for _, email, _, _, registrant in batch if registrant]
            if people:
                await zoom.cancel_registrants(webinar_id, people)
            async with services.database.session() as session:
                if action == "replace":
                    await rows.registrants_replaced(session, ids, now=utcnow())
                else:
                    await rows.registrants_cancelled(session, ids, now=utcnow())
                await session.commit()
            result.cancelled += len(ids)
    except ZoomAPIError as exc:
        log.warning("Zoom registrants of webinar %s (%s): %s", webinar_id, action, exc)
        async with services.database.session() as session:
            await rows.registrants_failed(session, ids, str(exc), now=utcnow())
            await session.commit()
        result.failed += len(ids)


# Reconciliation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    run_id: int
    occurrence_id: int
    reason: str | None  # None: ok
    rows: int = 0
    added: int = 0
    #: Rows of Zoom's report that could not be read (no times, leaving before joining, dated
    #: after the service's clock), left out: where and why, as "instance, row N: why".
    unreadable: tuple[str, ...] = ()


async def plan_and_run(services: Services, zoom: ZoomClient) -> list[Outcome]:
    """The scheduler's round: plan the 1 h and 24 h runs of ended occurrences, then run every
    due one this process can claim."""
    async with services.database.session() as session:
        await rows.plan_rounds(session, now=utcnow())
        await session.commit()
    return await run_due(services, zoom)


async def run_due(
    services: Services, zoom: ZoomClient, *, run_id: int | None = None
) -> list[Outcome]:
    """Claim and run due runs (or the one ``run_id``), one after the other."""
    owner = _owner()
    outcomes: list[Outcome] = []
    while True:
        async with services.database.session() as session:
            claimed = await rows.claim_rounds(
                session, owner=owner, now=utcnow(), lease=LEASE, run_id=run_id, limit=1
            )
            await session.commit()
        if not claimed:
            return outcomes
        for rid, occurrence_id in claimed:
            outcomes.append(await _run(services, zoom, rid, occurrence_id, owner))
        if run_id is not None:
            return outcomes


async def ask(services: Services, occurrence_id: int) -> int:
    """An organiser's reconciliation, due now (raises ``NotFoundError`` for an unknown
    occurrence, :class:`ZoomNotConfiguredError` without the account or the webinar id)."""
    if not services.settings.zoom_enabled:
        raise ZoomNotConfiguredError()
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        if occurrence is None:
            raise NotFoundError("occurrence", str(occurrence_id))
        run_id = await rows.ask_round(session, occurrence_id, now=utcnow())
        await session.commit()
    return run_id


async def reconcile_now(services: Services, zoom: ZoomClient, occurrence_id: int) -> Outcome:
    """``tracker zoom reconcile --occurrence ID``: ask for a run and run it here."""
    run_id = await ask(services, occurrence_id)
    outcomes = await run_due(services, zoom, run_id=run_id)
    if not outcomes:  # another process took it at the same moment
        return Outcome(run_id, occurrence_id, "another process is running it")
    return outcomes[0]


async def _run(
    services: Services, zoom: ZoomClient, run_id: int, occurrence_id: int, owner: str
) -> Outcome:
    try:
        found, added, unreadable = await _read_report(services, zoom, occurrence_id)
        outcome = Outcome(run_id, occurrence_id, None, found, added, unreadable)
    except (ZoomAPIError, _NoInstanceError) as exc:
        outcome = Outcome(run_id, occurrence_id, str(exc))
    except Exception as exc:  # recorded for the organiser, logged in full
        log.exception("reconciliation %d of occurrence %d failed", run_id, occurrence_id)
        outcome = Outcome(run_id, occurrence_id, f"{type(exc).__name__}: {exc}")
    async with services.database.session() as session:
        await rows.finish_round(
            session,
            run_id,
            owner=owner,
            now=utcnow(),
            reason=outcome.reason,
            rows=outcome.rows,
            added=outcome.added,
        )
        await session.commit()
    return outcome  # the caller tells (the job logs it, the CLI prints it, the page shows it)


class _NoInstanceError(LookupError):
    pass


async def _read_report(
    services: Services, zoom: ZoomClient, occurrence_id: int
) -> tuple[int, int, tuple[str, ...]]:
    """Read the participant reports of the occurrence's instances into facts: (rows read,
    facts added, the rows that could not be read and why). All are read before any is
    recorded: a failed reading records nothing and the run can be repeated."""
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        series = await session.get(Series, occurrence.series_id) if occurrence else None
    if occurrence is None or series is None:
        raise _NoInstanceError(f"occurrence {occurrence_id} does not exist any more")
    webinar_id = (series.zoom_webinar_id or "").replace(" ", "")
    if not webinar_id:
        raise _NoInstanceError(f"series {series.id} has no Zoom webinar id")
    instances = await zoom.past_instances(webinar_id)
    found = rows.session_instances(
        [(i.uuid, i.start_time) for i in instances],
        occurrence.start,
        occurrence.end,
        within=MATCH_WINDOW,
    )
    if not found:
        if series.rrule or instances:
            raise _NoInstanceError(
                f"Zoom lists no instance of webinar {webinar_id} that started near "
                f"{occurrence.start.isoformat()}"
            )
        found = [webinar_id]  # a single session: its report is the webinar's
    read, unreadable = ReadRows(), list[str]()
    for instance in found:  # every instance's report: a restarted webinar has several
        participants = await zoom.participants(instance)
        part = participant_events(
            participants, webinar_id=webinar_id, instance=instance, occurrence_id=occurrence_id
        )
        read.events += part.events
        read.rows += part.rows
        read.waiting += part.waiting
        unreadable += [f"instance {instance}, row {number}: {why}" for number, why in part.bad]
    if read.waiting:
        log.info(
            "reconciliation of occurrence %d: %d waiting-room row(s) left out",
            occurrence_id,
            read.waiting,
        )
    added = 0
    for start in range(0, len(read.events), CHUNK):  # short transactions, as the webhooks'
        recorded = await ingestion.record(services.database, read.events[start : start + CHUNK])
        added += recorded.accepted
    if added:
        await ingestion.project_soon(services)
    return read.rows, added, tuple(unreadable)


# The organiser's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class OccurrenceZoom:
    occurrence: Occurrence
    series: Series
    view: rows.ZoomView


async def occurrence_zoom(services: Services, occurrence_id: int) -> OccurrenceZoom:
    """An occurrence's facts by source and its reconciliation runs (read-only); raises
    ``NotFoundError`` for an unknown occurrence."""
    async with services.database.session() as session:
        occurrence = await session.get(Occurrence, occurrence_id)
        series = await session.get(Series, occurrence.series_id) if occurrence else None
        if occurrence is None or series is None:
            raise NotFoundError("occurrence", str(occurrence_id))
        view = await rows.zoom_view(session, occurrence_id)
    return OccurrenceZoom(occurrence, series, view)
