"""Physicians (organiser API) and the physician's own API (``/api/me``)."""

from __future__ import annotations

from aiohttp import web

from schedules.clock import utcnow
from tracker.domain import awards, physicians, requirements
from tracker.domain.attendance import match_pending
from tracker.domain.models import Physician
from tracker.domain.schemas import (
    CreditSummary,
    PhysicianCreate,
    PhysicianPublic,
    PhysicianUpdate,
    PhysicianWithToken,
    RequirementCreate,
    TokenRotated,
)
from tracker.http.keys import DATABASE, SERVICES, SETTINGS, physician_of
from tracker.http.parsing import json_response, path_id, read_json
from tracker.http.problems import HTTPProblem
from tracker.services import projections


def physician_public(physician: Physician) -> PhysicianPublic:
    return PhysicianPublic.model_validate(physician, from_attributes=True)


def personal_feed_url(request: web.Request, token: str) -> str:
    return f"{request.app[SETTINGS].base_url}/feeds/{token}.ics"


async def _match_later_events(request: web.Request) -> None:
    """A new physician (or email) may match events that arrived before them."""
    async with request.app[DATABASE].session() as session:
        matched = await match_pending(session)
    if matched.pairs or matched.ended:
        await projections.attendance_recorded(request.app[SERVICES], matched.pairs, matched.ended)


async def create_physician(request: web.Request) -> web.Response:
    data = await read_json(request, PhysicianCreate)
    async with request.app[DATABASE].session() as session:
        physician, token = await physicians.create_physician(session, data, now=utcnow())
        await session.commit()
    await _match_later_events(request)
    body = PhysicianWithToken(
        **physician_public(physician).model_dump(),
        token=token,
        feed_url=personal_feed_url(request, token),
    )
    response = json_response(body, status=201)
    response.headers["Location"] = f"/api/physicians/{physician.id}"
    response.headers["Cache-Control"] = "no-store"
    return response


async def list_physicians(request: web.Request) -> web.Response:
    email = request.query.get("email")
    if email and "\x00" in email:
        raise HTTPProblem(400, "query parameter 'email': NUL characters are not accepted")
    async with request.app[DATABASE].session() as session:
        rows = await physicians.list_physicians(session, email=email)
    return json_response([physician_public(row) for row in rows])


async def get_physician(request: web.Request) -> web.Response:
    async with request.app[DATABASE].session() as session:
        physician = await physicians.get_physician(session, path_id(request))
    return json_response(physician_public(physician))


async def update_physician(request: web.Request) -> web.Response:
    physician_id = path_id(request)
    data = await read_json(request, PhysicianUpdate)
    async with request.app[DATABASE].session() as session:
        physician = await physicians.update_physician(session, physician_id, data, now=utcnow())
        await session.commit()
    if data.email is not None:
        await _match_later_events(request)
    return json_response(physician_public(physician))


async def _rotate(request: web.Request, physician_id: int) -> web.Response:
    async with request.app[DATABASE].session() as session:
        _, token = await physicians.rotate_token(session, physician_id, now=utcnow())
        await session.commit()
    response = json_response(TokenRotated(token=token, feed_url=personal_feed_url(request, token)))
    response.headers["Cache-Control"] = "no-store"
    return response


async def rotate_token(request: web.Request) -> web.Response:
    return await _rotate(request, path_id(request))


async def _summary(request: web.Request, physician_id: int) -> web.Response:
    async with request.app[DATABASE].session() as session:
        summary = await awards.credit_summary(session, physician_id, now=utcnow())
    return json_response(CreditSummary.model_validate(summary))


async def physician_credits(request: web.Request) -> web.Response:
    return await _summary(request, path_id(request))


async def add_requirement(request: web.Request) -> web.Response:
    physician_id = path_id(request)
    data = await read_json(request, RequirementCreate)
    async with request.app[DATABASE].session() as session:
        await requirements.add_requirement(session, physician_id, data)
        await session.commit()
    return await _summary(request, physician_id)


async def delete_requirement(request: web.Request) -> web.Response:
    physician_id, requirement_id = path_id(request), path_id(request, "requirement_id")
    async with request.app[DATABASE].session() as session:
        await requirements.delete_requirement(session, physician_id, requirement_id)
        await session.commit()
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    return json_response(physician_public(physician_of(request)))


async def my_credits(request: web.Request) -> web.Response:
    return await _summary(request, physician_of(request).id or 0)


async def my_award(request: web.Request) -> web.Response:
    """One of my sessions; another physician's session is simply not found (404)."""
    occurrence_id = path_id(request, "occurrence_id")
    async with request.app[DATABASE].session() as session:
        summary = await awards.credit_summary(session, physician_of(request).id or 0, now=utcnow())
    for award in CreditSummary.model_validate(summary).awards:
        if award.occurrence_id == occurrence_id:
            return json_response(award)
    raise HTTPProblem(404, f"you have no attendance at occurrence {occurrence_id}")


async def rotate_my_token(request: web.Request) -> web.Response:
    return await _rotate(request, physician_of(request).id or 0)
