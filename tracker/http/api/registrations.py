"""Registrations of physicians to series."""

from __future__ import annotations

from aiohttp import web

from tracker.domain.models import Registration
from tracker.domain.schemas import RegistrationCreate, RegistrationPublic, WaitlistPlace
from tracker.http.keys import SERVICES
from tracker.http.paging import REGISTRATIONS, RegistrationPage, list_page, page_request
from tracker.http.parsing import json_response, path_id, read_json
from tracker.services import lists
from tracker.services import registrations as registration_service


def _public(registration: Registration) -> RegistrationPublic:
    return RegistrationPublic.model_validate(registration, from_attributes=True)


async def register(request: web.Request) -> web.Response:
    """201 a new seat, 200 already registered, 202 on the waitlist (the series is full and
    ``over_capacity`` was not asked for)."""
    series_id = path_id(request)
    data = await read_json(request, RegistrationCreate)
    placed = await registration_service.register(
        request.app[SERVICES],
        series_id,
        physician_id=data.physician_id,
        email=data.email,
        over_capacity=data.over_capacity,
    )
    if placed.registration is None:
        assert placed.position is not None
        place = WaitlistPlace(
            series_id=series_id,
            physician_id=placed.physician_id,
            position=placed.position,
        )
        return json_response(place, status=202)
    status = 201 if placed.outcome == "registered" else 200
    return json_response(_public(placed.registration), status=status)


async def list_registrations(request: web.Request) -> web.Response:
    """A series' registrations in the order they were made, a page at a time."""
    series_id = path_id(request)
    asked = page_request(request, REGISTRATIONS, (int,))
    page = await lists.registrations_page(request.app[SERVICES], series_id, asked)
    items = [_public(row) for row in page.rows]
    return json_response(list_page(RegistrationPage, REGISTRATIONS, page, items))


async def unregister(request: web.Request) -> web.Response:
    series_id, physician_id = path_id(request), path_id(request, "physician_id")
    await registration_service.unregister(request.app[SERVICES], series_id, physician_id)
    return web.Response(status=204)
