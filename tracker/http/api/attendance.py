"""Attendance ingestion (API batch and Zoom webhook), unmatched events, per-occurrence reading."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from schedules.clock import utcnow
from tracker.adapters.zoom_webhook import to_event, url_validation, verify
from tracker.domain.attendance import NewEvent, Recorded, unmatched_reason
from tracker.domain.exports import Layout, Period, render_header, render_rows
from tracker.domain.schemas import (
    AttendanceBatch,
    AttendanceEventPublic,
    AttendancePublic,
    IngestResult,
)
from tracker.errors import ZoomPayloadError, ZoomSignatureError
from tracker.http.keys import SERVICES, SETTINGS
from tracker.http.paging import (
    ATTENDANCE,
    UNMATCHED,
    AttendancePage,
    UnmatchedPage,
    list_page,
    page_request,
    query_id,
    query_text,
)
from tracker.http.parsing import (
    json_response,
    parse_json,
    path_id,
    query_datetime,
    query_day,
    read_json,
)
from tracker.http.problems import HTTPProblem, problem_response
from tracker.services import attendance as attendance_service
from tracker.services import lists
from tracker.services.ingestion import Writer, record_batch

log = logging.getLogger(__name__)
#: This process's attendance writer (group commit; see :mod:`tracker.services.ingestion`).
WRITER = web.AppKey("attendance_writer", Writer)


async def post_events(request: web.Request) -> web.Response:
    batch = await read_json(request, AttendanceBatch)
    payloads = batch.model_dump(mode="json")  # one call for the whole list
    events = [
        NewEvent(
            source="api",
            external_id=item.event_id,
            kind=item.kind,
            at=item.at,
            payload=payload,
            email=item.email,
            connection_id=item.connection_id,
            requested_occurrence_id=item.occurrence_id,
            requested_physician_id=item.physician_id,
        )
        for item, payload in zip(batch.root, payloads, strict=True)
    ]
    recorded = await record_batch(request.app[SERVICES], request.app[WRITER], events)
    if recorded.conflicts:
        raise _conflicts(batch, recorded)
    result = IngestResult(
        accepted=recorded.accepted, duplicates=recorded.duplicates, unmatched=recorded.unmatched
    )
    return json_response(result, status=202)


async def zoom_webhook(request: web.Request) -> web.Response:
    """Zoom's events. A signed event this service cannot read is answered 400/422 and logged
    (never stored half-read, never dropped without a trace); Zoom then retries it for a while."""
    secret = request.app[SETTINGS].zoom_webhook_secret
    if secret is None:
        return problem_response(
            503, "the Zoom webhook is not configured (TRACKER_ZOOM_WEBHOOK_SECRET)"
        )
    body = await request.read()
    now = utcnow()
    try:
        verify(
            secret.get_secret_value(),
            timestamp=request.headers.get("x-zm-request-timestamp"),
            signature=request.headers.get("x-zm-signature"),
            body=body,
            now=now,
        )
    except ZoomSignatureError as exc:
        raise HTTPProblem(401, str(exc)) from None
    payload: Any = None
    try:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise HTTPProblem(400, "the body must be a JSON object")
        if payload.get("event") == "endpoint.url_validation":
            return web.json_response(url_validation(secret.get_secret_value(), _plain(payload)))
        try:
            event = to_event(payload, now=now)
        except ZoomPayloadError as exc:
            raise HTTPProblem(422, str(exc)) from None
    except HTTPProblem as exc:
        log.warning("refused a signed Zoom event %s: %s", _event_name(payload), exc.detail)
        raise
    if event is None:
        return _answer("ignored")
    (status,) = (await request.app[WRITER].record([event])).statuses  # committed
    if status == "conflict":  # the stored fact stands; Zoom retrying would change nothing
        log.warning(
            "a Zoom event has the id of a stored event with other details; kept the stored one: %s",
            event.external_id,
        )
    return _answer(status)


def _conflicts(batch: AttendanceBatch, recorded: Recorded) -> HTTPProblem:
    """409 naming each event whose id is taken by another fact; the rest of the batch is stored
    (sending it again, with new ids for those, records only them)."""
    errors = [
        {
            "field": f"{index}.event_id",
            "message": f"event_id {item.event_id!r} is already stored with another kind, time, "
            "person or session; this event was not stored (give it its own event_id)",
        }
        for index, (item, status) in enumerate(zip(batch.root, recorded.statuses, strict=True))
        if status == "conflict"
    ]
    detail = (
        f"{recorded.conflicts} event(s) reuse an event_id already stored with other details and "
        f"were not stored; of the others, {recorded.accepted} were recorded "
        f"({recorded.unmatched} unmatched) and {recorded.duplicates} were already known"
    )
    return HTTPProblem(409, detail, errors=errors)


#: The webhook's answers, encoded once (a storm sends tens of thousands of them).
_ANSWERS = {
    status: json.dumps({"status": status}).encode()
    for status in ("accepted", "duplicate", "unmatched", "ignored", "conflict")
}


def _answer(status: str) -> web.Response:
    return web.Response(body=_ANSWERS[status], content_type="application/json", charset="utf-8")


def _plain(payload: dict[str, Any]) -> str:
    """The ``plainToken`` of a URL validation request, or 400."""
    body = payload.get("payload")
    plain = body.get("plainToken") if isinstance(body, dict) else None
    if not isinstance(plain, str) or not plain:
        raise HTTPProblem(400, "payload.plainToken is missing")
    return plain


def _event_name(payload: Any) -> str:
    """The event's name for a log line (printable and short: a log line stays one line)."""
    name = payload.get("event") if isinstance(payload, dict) else None
    if isinstance(name, str) and name.isprintable() and len(name) <= 64:
        return name
    return "(no readable event name)"


async def list_unmatched(request: web.Request) -> web.Response:
    """Events waiting for a match, a page at a time (``?q=``: words of the email)."""
    asked = page_request(request, UNMATCHED, (int,))
    search = query_text(request, "q")
    page = await lists.unmatched_page(request.app[SERVICES], asked, search=search)
    items = [
        AttendanceEventPublic(**row.model_dump(exclude={"payload"}), reason=unmatched_reason(row))
        for row in page.rows
    ]
    return json_response(list_page(UnmatchedPage, UNMATCHED, page, items))


async def occurrence_attendance(request: web.Request) -> web.Response:
    """Attendees by name, a page at a time (``?q=`` words of a name, email or identifier;
    ``?physician_id=`` one physician)."""
    occurrence_id = path_id(request)
    asked = page_request(request, ATTENDANCE, (str, str, int))
    search, physician_id = query_text(request, "q"), query_id(request, "physician_id")
    page = await lists.attendance_page(
        request.app[SERVICES],
        occurrence_id,
        asked,
        now=utcnow(),
        search=search,
        physician_id=physician_id,
    )
    items = [
        AttendancePublic(
            physician_id=physician.id or 0,
            first_name=physician.first_name,
            last_name=physician.last_name,
            email=physician.email,
            minutes=round(award.seconds / 60, 2),
            final=award.final,
            credits=award.credits,
            anomalies=award.anomalies,
            receipt=award.receipt if physician_id is not None and award.final else None,
            revoked_at=revoked,
        )
        for award, physician, revoked in page.rows
    ]
    return json_response(list_page(AttendancePage, ATTENDANCE, page, items))


async def export_completions(request: web.Request) -> web.StreamResponse:
    """``completions.csv``: CSV, UTF-8 with a byte-order mark."""
    return await _export(request, "csv")


async def export_completions_tab(request: web.Request) -> web.StreamResponse:
    """``completions.txt``: the same rows, tab-delimited (PARS batch upload)."""
    return await _export(request, "tab")


async def _export(request: web.Request, layout: Layout) -> web.StreamResponse:
    """Streamed batch by batch (:func:`tracker.services.attendance.completions`): an export of
    any size holds one batch, and no database connection waits on a slow client. The first
    batch is read before the answer starts, so that an unreachable database is still a 503."""
    first_day, last_day = query_day(request, "from"), query_day(request, "to")
    period = Period(
        start_from=None if first_day else query_datetime(request, "from"),
        until=None if last_day else query_datetime(request, "to"),
        first_day=first_day,
        last_day=last_day,
    )
    batches = attendance_service.completions(request.app[SERVICES], period)
    first = await anext(batches)
    name, media_type = (
        ("completions.txt", "text/tab-separated-values")
        if layout == "tab"
        else ("completions.csv", "text/csv")
    )
    response = web.StreamResponse(
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
    response.content_type = media_type
    response.charset = "utf-8"
    await response.prepare(request)
    head = render_header(first.header, layout) + render_rows(first.rows, layout)
    await response.write(head.encode())
    try:
        async for batch in batches:
            await response.write(render_rows(batch.rows, layout).encode())
    except Exception:  # the answer has begun: no problem document can follow it
        log.exception("the %s export stopped part way; the connection is cut", name)
        if request.transport is not None:
            request.transport.abort()  # never the last chunk: the client sees a broken file
        return response
    finally:
        await batches.aclose()
    await response.write_eof()
    return response
