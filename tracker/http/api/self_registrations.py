"""Self-registration (SPEC 6): the public request (no auth, rate-limited per client, the same
202 for every address) and the organiser's list of requests by status."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from tracker.domain import self_registrations
from tracker.domain.models import SelfRegistration
from tracker.domain.schemas import (
    SelfRegistrationAccepted,
    SelfRegistrationCreate,
    SelfRegistrationPublic,
)
from tracker.errors import RegistrationClosedError
from tracker.http.keys import SERVICES, SETTINGS
from tracker.http.pages.sessions import same_origin
from tracker.http.paging import (
    SELF_REGISTRATIONS,
    WAITLIST,
    SelfRegistrationPage,
    list_page,
    page_request,
)
from tracker.http.parsing import json_response, path_id, read_json
from tracker.http.problems import HTTPProblem
from tracker.http.ratelimit import SELF_REGISTRATION
from tracker.services import self_registrations as self_registration_service


async def self_register(request: web.Request) -> web.Response:
    series_id = path_id(request)
    if not same_origin(request, request.app[SETTINGS].base_url):
        # a browser on another site's page (a cross-site form can send JSON as text/plain)
        raise HTTPProblem(403, "this request was sent from another site")
    wait = SELF_REGISTRATION.wait(request)
    if wait is not None:
        raise HTTPProblem(
            429,
            f"too many registration requests from your address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    data = await read_json(request, SelfRegistrationCreate)
    try:
        await self_registration_service.request_registration(request.app[SERVICES], series_id, data)
    except RegistrationClosedError as exc:
        raise HTTPProblem(409, str(exc)) from None
    SELF_REGISTRATION.count(request)  # only requests that sent an email count
    return json_response(SelfRegistrationAccepted(), status=202)


def request_public(row: SelfRegistration, place: int | None) -> SelfRegistrationPublic:
    return SelfRegistrationPublic.model_validate(
        {**row.model_dump(), "position": place}, from_attributes=False
    )


async def list_self_registrations(request: web.Request) -> web.Response:
    """A series' requests, optionally of one status, a page at a time."""
    series_id = path_id(request)
    status = request.query.get("status") or None
    if status is not None and status not in self_registrations.STATUSES:
        raise HTTPProblem(
            400, f"query parameter 'status' must be one of {', '.join(self_registrations.STATUSES)}"
        )
    if status == self_registrations.WAITLISTED:
        name, asked = WAITLIST, page_request(request, WAITLIST, (datetime, int))
    else:
        name, asked = SELF_REGISTRATIONS, page_request(request, SELF_REGISTRATIONS, (int,))
    found = await self_registration_service.requests_page(
        request.app[SERVICES], series_id, asked, status=status
    )
    page = found.requests
    assert page is not None
    items = [request_public(row, place) for row, place in page.rows]
    return json_response(list_page(SelfRegistrationPage, name, page, items))
