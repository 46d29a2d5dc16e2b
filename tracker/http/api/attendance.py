"""Attendance ingestion (API batch and Zoom webhook), unmatched events, per-occurrence reading."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from schedules.clock import utcnow
from tracker.adapters.zoom_webhook import to_event, url_validation, verify
from tracker.domain import awards
from tracker.domain.attendance import NewEvent, unmatched_events, unmatched_reason
from tracker.domain.exports import Layout, completions_csv
from tracker.domain.schemas import (
    AttendanceBatch,
    AttendanceEventPublic,
    AttendancePublic,
    IngestResult,
)
from tracker.errors import ZoomPayloadError, ZoomSignatureError
from tracker.http.keys import DATABASE, SERVICES, SETTINGS
from tracker.http.parsing import json_response, parse_json, path_id, query_datetime, read_json
from tracker.http.problems import HTTPProblem, problem_response
from tracker.services.ingestion import Writer, record_batch, settle

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
    try:
        verify(
            secret.get_secret_value(),
            timestamp=request.headers.get("x-zm-request-timestamp"),
            signature=request.headers.get("x-zm-signature"),
            body=body,
            now=utcnow(),
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
            event = to_event(payload)
        except ZoomPayloadError as exc:
            raise HTTPProblem(422, str(exc)) from None
    except HTTPProblem as exc:
        log.warning("refused a signed Zoom event %s: %s", _event_name(payload), exc.detail)
        raise
    if event is None:
        return web.json_response({"status": "ignored"})
    (status,) = (await request.app[WRITER].record([event])).statuses  # committed
    return web.json_response({"status": status})


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
    async with request.app[DATABASE].session() as session:
        rows = await unmatched_events(session)
    return json_response(
        [
            AttendanceEventPublic(
                **row.model_dump(exclude={"payload"}), reason=unmatched_reason(row)
            )
            for row in rows
        ]
    )


async def occurrence_attendance(request: web.Request) -> web.Response:
    await settle(request.app[SERVICES], occurrence_id=path_id(request))  # pending awards first
    async with request.app[DATABASE].session() as session:
        rows = await awards.occurrence_attendance(session, path_id(request), now=utcnow())
    return json_response(
        [
            AttendancePublic(
                physician_id=physician.id or 0,
                first_name=physician.first_name,
                last_name=physician.last_name,
                email=physician.email,
                minutes=round(award.seconds / 60, 2),
                final=award.final,
                credits=award.credits,
                anomalies=award.anomalies,
            )
            for award, physician in rows
        ]
    )


async def export_completions(request: web.Request) -> web.Response:
    """``completions.csv``: CSV, UTF-8 with a byte-order mark."""
    return await _export(request, "csv")


async def export_completions_tab(request: web.Request) -> web.Response:
    """``completions.txt``: the same rows, tab-delimited (PARS batch upload)."""
    return await _export(request, "tab")


async def _export(request: web.Request, layout: Layout) -> web.Response:
    start_from, until = query_datetime(request, "from"), query_datetime(request, "to")
    async with request.app[DATABASE].session() as session:
        text = await completions_csv(session, start_from=start_from, until=until, layout=layout)
    name, media_type = (
        ("completions.txt", "text/tab-separated-values")
        if layout == "tab"
        else ("completions.csv", "text/csv")
    )
    return web.Response(
        text=text,
        content_type=media_type,
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
