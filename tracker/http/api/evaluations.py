"""Organiser API of evaluations (SPEC 7): a series' questions, a session's results and their
CSV export."""

from __future__ import annotations

import logging

from aiohttp import web

from schedules.errors import NotFoundError
from schedules.models import Series
from tracker.domain.evaluations import (
    EvaluationIn,
    EvaluationOut,
    question_out,
    results_out,
)
from tracker.domain.exports import render_header, render_rows
from tracker.domain.models import EvaluationQuestion
from tracker.http.keys import SERVICES
from tracker.http.parsing import json_response, path_id, read_json
from tracker.services import evaluations as evaluation_service

log = logging.getLogger(__name__)


async def get_evaluation(request: web.Request) -> web.Response:
    series, questions = await evaluation_service.evaluation(request.app[SERVICES], path_id(request))
    return json_response(_out(series, questions))


async def put_evaluation(request: web.Request) -> web.Response:
    series_id = path_id(request)
    data = await read_json(request, EvaluationIn)
    series, questions = await evaluation_service.replace_evaluation(
        request.app[SERVICES], series_id, data
    )
    return json_response(_out(series, questions))


def _out(series: Series, questions: list[EvaluationQuestion]) -> EvaluationOut:
    return EvaluationOut(
        series_id=series.id or 0,
        claim_required=series.claim_required,
        claim_window_days=series.claim_window_days,
        questions=[question_out(q) for q in questions],
    )


async def get_results(request: web.Request) -> web.Response:
    results = await evaluation_service.session_results(request.app[SERVICES], path_id(request))
    return json_response(results_out(results))


async def export_results(request: web.Request) -> web.StreamResponse:
    """One row per answer (free text whole), CSV safe against formulas; streamed a batch at a
    time, the first read before the answer starts (a 404 or 503 is still a problem document)."""
    return await stream_export(request, path_id(request))


async def stream_export(request: web.Request, occurrence_id: int) -> web.StreamResponse:
    """The CSV of one session's answers (the API route's, and the organiser page's)."""
    batches = evaluation_service.export_answers(request.app[SERVICES], occurrence_id)
    try:
        (header,) = await anext(batches)
    except NotFoundError:
        await batches.aclose()
        raise
    first = await anext(batches)
    response = web.StreamResponse(
        headers={
            "Content-Disposition": f'attachment; filename="evaluation-{occurrence_id}.csv"',
            "Cache-Control": "no-store",
        }
    )
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    await response.write((render_header(header, "csv") + render_rows(first, "csv")).encode())
    try:
        async for rows in batches:
            await response.write(render_rows(rows, "csv").encode())
    except Exception:  # the answer has begun: no problem document can follow it
        log.exception("the evaluation export of occurrence %s stopped part way", occurrence_id)
        if request.transport is not None:
            request.transport.abort()
        return response
    finally:
        await batches.aclose()
    await response.write_eof()
    return response
