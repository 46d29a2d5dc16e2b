"""Organiser API for series and occurrences."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from schedules.models import Occurrence, Series
from schedules.schemas import (
    CreditDesignation,
    OccurrencePublic,
    OccurrenceUpdate,
    SeriesCreate,
    SeriesCreated,
    SeriesPublic,
    SeriesUpdate,
)
from tracker.http.keys import SERVICES, SETTINGS
from tracker.http.paging import (
    OCCURRENCES,
    SERIES,
    OccurrencePage,
    SeriesPage,
    list_page,
    page_request,
)
from tracker.http.parsing import json_response, path_id, query_datetime, read_json
from tracker.http.problems import HTTPProblem
from tracker.services import lists
from tracker.services import series as series_service


def feed_url(request: web.Request, series: Series) -> str:
    return f"{request.app[SETTINGS].base_url}/series/{series.slug}.ics"


def series_public(request: web.Request, series: Series) -> SeriesPublic:
    return SeriesPublic(
        id=series.id or 0,
        slug=series.slug,
        uid=series.uid,
        title=series.title,
        description=series.description,
        timezone=series.timezone,
        start=series.start_local,
        duration_minutes=series.duration_minutes,
        rrule=series.rrule,
        join_url=series.join_url,
        credits=[CreditDesignation.model_validate(credit) for credit in series.credits],
        min_attendance_percent=series.min_attendance_percent,
        reminders=series.reminders,
        language=series.language,
        zoom_webinar_id=series.zoom_webinar_id,
        pars_activity_id=series.pars_activity_id,
        dpc_action_ref=series.dpc_action_ref,
        council_accreditation_ref=series.council_accreditation_ref,
        public=series.public,
        registration=series.registration,
        capacity=series.capacity,
        claim_required=series.claim_required,
        claim_window_days=series.claim_window_days,
        sequence=series.sequence,
        feed_url=feed_url(request, series),
        created_at=series.created_at,
        updated_at=series.updated_at,
    )


def occurrence_public(occurrence: Occurrence) -> OccurrencePublic:
    return OccurrencePublic.model_validate(occurrence, from_attributes=True)


async def create_series(request: web.Request) -> web.Response:
    data = await read_json(request, SeriesCreate)
    series = await series_service.create_series(request.app[SERVICES], data)
    created = SeriesCreated(id=series.id or 0, slug=series.slug, feed_url=feed_url(request, series))
    response = json_response(created, status=201)
    response.headers["Location"] = f"/api/series/{series.id}"
    return response


async def list_series(request: web.Request) -> web.Response:
    """Series in id order, a page at a time."""
    asked = page_request(request, SERIES, (int,))
    page = await lists.series_page(request.app[SERVICES], asked)
    items = [series_public(request, series) for series in page.rows]
    return json_response(list_page(SeriesPage, SERIES, page, items))


async def get_series(request: web.Request) -> web.Response:
    series = await series_service.get_series(request.app[SERVICES], path_id(request))
    return json_response(series_public(request, series))


async def update_series(request: web.Request) -> web.Response:
    series_id = path_id(request)
    data = await read_json(request, SeriesUpdate)
    services = request.app[SERVICES]
    series = await series_service.update_series(services, series_id, data)
    kept = await series_service.final_sessions_keeping_rules(services, series_id)
    return json_response(
        series_public(request, series).model_copy(update={"final_sessions_keeping_rules": kept})
    )


async def list_occurrences(request: web.Request) -> web.Response:
    series_id = path_id(request)
    start_from = query_datetime(request, "from")
    until = query_datetime(request, "to", day_end=True)
    if start_from and until and until <= start_from:
        raise HTTPProblem(400, "'to' must be later than 'from'")
    asked = page_request(request, OCCURRENCES, (datetime, int))
    page = await lists.occurrences_page(
        request.app[SERVICES], series_id, asked, start_from=start_from, until=until
    )
    items = [occurrence_public(occurrence) for occurrence in page.rows]
    return json_response(list_page(OccurrencePage, OCCURRENCES, page, items))


async def update_occurrence(request: web.Request) -> web.Response:
    occurrence_id = path_id(request)
    change = await read_json(request, OccurrenceUpdate)
    occurrence = await series_service.change_occurrence(
        request.app[SERVICES], occurrence_id, change
    )
    return json_response(occurrence_public(occurrence))
