"""Physicians (organiser API) and the physician's own API (``/api/me``)."""

from __future__ import annotations

from aiohttp import web

from tracker.domain.models import Physician
from tracker.domain.schemas import (
    PhysicianCreateRequest,
    PhysicianPublic,
    PhysicianUpdate,
    PhysicianWithToken,
    RequirementCreate,
    TokenRotated,
)
from tracker.http.keys import SERVICES, SETTINGS, physician_of
from tracker.http.paging import PHYSICIANS, PhysicianPage, list_page, page_request, query_text
from tracker.http.parsing import json_response, path_id, read_json
from tracker.http.problems import HTTPProblem
from tracker.services import lists
from tracker.services import physicians as physician_service


def physician_public(physician: Physician) -> PhysicianPublic:
    return PhysicianPublic.model_validate(physician, from_attributes=True)


def personal_feed_url(request: web.Request, key: str) -> str:
    """The personal feed's URL for ``key``: the read-only feed key (or a personal token)."""
    return f"{request.app[SETTINGS].base_url}/feeds/{key}.ics"


async def create_physician(request: web.Request) -> web.Response:
    data = await read_json(request, PhysicianCreateRequest)
    physician, token = await physician_service.create_physician(
        request.app[SERVICES], data.physician(), send_welcome=data.send_welcome
    )
    body = PhysicianWithToken(
        **physician_public(physician).model_dump(),
        token=token,
        feed_url=personal_feed_url(request, physician.feed_secret or token),
    )
    response = json_response(body, status=201)
    response.headers["Location"] = f"/api/physicians/{physician.id}"
    response.headers["Cache-Control"] = "no-store"
    return response


async def list_physicians(request: web.Request) -> web.Response:
    """Physicians in id order, a page at a time; ``?email=`` one address exactly, ``?q=``
    words of a name, email or identifier (any case, accents folded)."""
    asked = page_request(request, PHYSICIANS, (int,))
    email = request.query.get("email")
    if email and "\x00" in email:
        raise HTTPProblem(400, "query parameter 'email': NUL characters are not accepted")
    search = query_text(request, "q")
    page = await lists.physicians_page(request.app[SERVICES], asked, search=search, email=email)
    items = [physician_public(row) for row in page.rows]
    return json_response(list_page(PhysicianPage, PHYSICIANS, page, items))


async def get_physician(request: web.Request) -> web.Response:
    physician = await physician_service.get_physician(request.app[SERVICES], path_id(request))
    return json_response(physician_public(physician))


async def update_physician(request: web.Request) -> web.Response:
    physician_id = path_id(request)
    data = await read_json(request, PhysicianUpdate)
    physician = await physician_service.update_physician(request.app[SERVICES], physician_id, data)
    return json_response(physician_public(physician))


async def _rotate(request: web.Request, physician_id: int) -> web.Response:
    token, feed = await physician_service.rotate_token(request.app[SERVICES], physician_id)
    response = json_response(TokenRotated(token=token, feed_url=personal_feed_url(request, feed)))
    response.headers["Cache-Control"] = "no-store"
    return response


async def rotate_token(request: web.Request) -> web.Response:
    return await _rotate(request, path_id(request))


async def _summary(request: web.Request, physician_id: int) -> web.Response:
    return json_response(
        await physician_service.credit_summary(request.app[SERVICES], physician_id)
    )


async def physician_credits(request: web.Request) -> web.Response:
    return await _summary(request, path_id(request))


async def add_requirement(request: web.Request) -> web.Response:
    physician_id = path_id(request)
    data = await read_json(request, RequirementCreate)
    summary = await physician_service.add_requirement(request.app[SERVICES], physician_id, data)
    return json_response(summary)


async def delete_requirement(request: web.Request) -> web.Response:
    physician_id, requirement_id = path_id(request), path_id(request, "requirement_id")
    await physician_service.delete_requirement(request.app[SERVICES], physician_id, requirement_id)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    return json_response(physician_public(physician_of(request)))


async def my_credits(request: web.Request) -> web.Response:
    return await _summary(request, physician_of(request).id or 0)


async def my_award(request: web.Request) -> web.Response:
    """One of my sessions; another physician's session is simply not found (404)."""
    occurrence_id = path_id(request, "occurrence_id")
    summary = await physician_service.credit_summary(
        request.app[SERVICES], physician_of(request).id or 0
    )
    for award in summary.awards:
        if award.occurrence_id == occurrence_id:
            return json_response(award)
    raise HTTPProblem(404, f"you have no attendance at occurrence {occurrence_id}")


async def rotate_my_token(request: web.Request) -> web.Response:
    return await _rotate(request, physician_of(request).id or 0)
