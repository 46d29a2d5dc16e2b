"""Registrations of physicians to series."""

from __future__ import annotations

from aiohttp import web

from tracker.domain.models import Registration
from tracker.domain.schemas import RegistrationCreate, RegistrationPublic
from tracker.http.keys import SERVICES
from tracker.http.paging import REGISTRATIONS, RegistrationPage, list_page, page_request
from tracker.http.parsing import json_response, path_id, read_json
from tracker.services import lists
from tracker.services import registrations as registration_service


def _public(registration: Registration) -> RegistrationPublic:
    return RegistrationPublic.model_validate(registration, from_attributes=True)


async def register(request: web.Request) -> web.Response:
    series_id = path_id(request)
    data = await read_json(request, RegistrationCreate)
    registration, created = await registration_service.register(
        request.app[SERVICES], series_id, physician_id=data.physician_id, email=data.email
    )
    return json_response(_public(registration), status=201 if created else 200)


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
