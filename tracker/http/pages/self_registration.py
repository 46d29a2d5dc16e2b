"""Self-registration pages (SPEC 6): the public series page with its form, the confirmation
link's page, leaving a series or its waitlist from the physician's page, and the organiser's
view of who is registered, waiting, or yet to confirm. Thin handlers: parse, call one service,
render."""

from __future__ import annotations

import contextlib
import functools
import zoneinfo
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from schedules.designation import designation_lines
from schedules.errors import NotFoundError
from schedules.models import Series
from schedules.recurrence import timezone_names
from tracker.domain.localtime import long_date, when_zoned, zone_name
from tracker.domain.schemas import SelfRegistrationCreate
from tracker.domain.self_registrations import has_sessions_to_come
from tracker.domain.unkept_numbers import UnkeptNumber
from tracker.errors import RegistrationClosedError
from tracker.http.keys import MAIL, SERVICES, SETTINGS
from tracker.http.pages import sessions
from tracker.http.pages.i18n import language, name_problem, plural, translator
from tracker.http.pages.physician import _physician_session
from tracker.http.pages.render import form_with_csrf, message_page, page, secure_cookies
from tracker.http.paging import SELF_REGISTRATIONS, WAITLIST, cursors, page_request
from tracker.http.parsing import path_id, read_form
from tracker.http.ratelimit import SELF_REGISTRATION
from tracker.services import registrations as registration_service
from tracker.services import self_registrations as self_registration_service

#: Regions whose zones people live in (no ``Etc/``, ``US/``, ``SystemV/`` aliases).
_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@functools.cache
def timezone_choices() -> tuple[str, ...]:
    """The timezones the form offers, by name: UTC and every zone of a region."""
    names = sorted(z for z in timezone_names() if z.startswith(_REGIONS))
    return ("UTC", *names)


async def _public_series(request: web.Request) -> self_registration_service.PublicSeries:
    try:
        return await self_registration_service.public_series(
            request.app[SERVICES], request.match_info["slug"]
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None


async def series_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> web.Response:
    """The public page of a series: its sessions to come, the zone named, and the form when
    anyone may register."""
    lang = language(request)
    shown_series = await _public_series(request)
    series, upcoming, taken = shown_series.series, shown_series.upcoming, shown_series.seats_taken
    mail = request.app[MAIL]
    feed = f"{request.app[SETTINGS].base_url}/series/{series.slug}.ics"
    shown = {
        "first_name": "",
        "last_name": "",
        "email": "",
        "language": lang,
        "timezone": series.timezone,
        "npi": "",
        "rpps": "",
        "consent": False,
        "chosen": False,
        **(values or {}),
    }
    return page(
        request,
        "series_public.html",
        status=status,
        series=series,
        statement=designation_lines(
            series.credits, provider=mail.provider, labels=mail.labels.of(lang), language=lang
        ),
        feed=feed,
        webcal="webcal://" + feed.split("://", 1)[1],
        zone=zone_name(series.timezone, lang),
        sessions=[
            {"when": when_zoned(o.start, series.timezone, lang), "status": o.status}
            for o in upcoming
        ],
        seats=None if series.capacity is None else max(0, series.capacity - taken),
        ended=not has_sessions_to_come(upcoming),
        zones=timezone_choices(),
        errors=errors or [],
        values=shown,
    )


async def public_series(request: web.Request) -> web.Response:
    return await series_page(request)


def _posted(form: dict[str, str]) -> dict[str, Any]:
    return {
        "first_name": form.get("first_name", "").strip(),
        "last_name": form.get("last_name", "").strip(),
        "email": form.get("email", "").strip(),
        "language": form.get("language", "en"),
        "timezone": form.get("timezone", "UTC"),
        "npi": form.get("npi", "").strip() or None,
        "rpps": form.get("rpps", "").strip() or None,
        "consent_board_reporting": form.get("consent_board_reporting") == "yes",
    }


def _form_errors(exc: ValidationError, lang: str) -> list[str]:
    """One localised sentence per field in error, in the form's order."""
    t = translator(lang)
    said: dict[str, str] = {}
    for error in exc.errors():
        if error["loc"]:
            field = str(error["loc"][0])
            said.setdefault(
                field, name_problem(field, error["type"], t) or t.get(f"selfreg.bad.{field}", "")
            )
    order = ["first_name", "last_name", "email", "language", "timezone", "npi", "rpps"]
    found = [said[name] for name in order if said.get(name)]
    return found or [t["selfreg.bad.other"]]


async def public_register(request: web.Request) -> web.Response:
    """The form: the same answer for every address (a page saying to check the inbox)."""
    _from_this_site(request)
    lang = language(request)
    t = translator(lang)
    series = (await _public_series(request)).series
    if series.registration != "open":
        return await series_page(request, status=409)
    form = dict((await read_form(request)).items())
    payload = _posted(form)
    shown = {
        **{k: v or "" for k, v in payload.items()},
        "consent": payload["consent_board_reporting"],
        "chosen": True,
    }
    wait = SELF_REGISTRATION.wait(request)
    if wait is not None:
        response = await series_page(
            request,
            status=429,
            errors=[t["selfreg.too_many"].format(wait=plural(lang, "selfreg.wait", wait))],
            values=shown,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        data = SelfRegistrationCreate.model_validate(payload)
        await self_registration_service.request_registration(
            request.app[SERVICES], series.id or 0, data
        )
    except ValidationError as exc:
        return await series_page(request, status=422, errors=_form_errors(exc, lang), values=shown)
    except RegistrationClosedError:
        return await series_page(request, status=409)
    SELF_REGISTRATION.count(request)
    return message_page(request, t["selfreg.sent.title"], t["selfreg.sent"])


def _from_this_site(request: web.Request) -> None:
    """These forms have no session to hold a CSRF token: a post another site's page made the
    browser send is refused by its ``Origin`` (403, a localised page)."""
    if not sessions.same_origin(request, request.app[SETTINGS].base_url):
        raise web.HTTPForbidden()


def _unknown_link(request: web.Request) -> web.Response:
    t = translator(language(request))
    return message_page(request, t["selfreg.unknown.title"], t["selfreg.unknown"], status=404)


async def confirm_page(request: web.Request) -> web.Response:
    """The link from the email shows a button: opening a link (a mail scanner does) uses
    nothing; pressing the button confirms."""
    code = request.match_info["code"]
    found = await self_registration_service.pending_for_code(request.app[SERVICES], code)
    if found is None:
        return _unknown_link(request)
    row, series = found
    return page(
        request,
        "selfreg_confirm.html",
        lang=language(request, row.language),
        name=f"{row.first_name} {row.last_name}",
        email=row.email,
        title=series.title,
        action=request.path,
    )


async def confirm(request: web.Request) -> web.Response:
    """Use the link: registered or waitlisted, and signed in on this browser."""
    _from_this_site(request)  # else another site could sign its visitor in as someone else
    done = await self_registration_service.confirm(
        request.app[SERVICES], request.match_info["code"]
    )
    if done is None:
        return _unknown_link(request)
    result = done.confirmation
    lang = language(request, result.physician.language)
    t = translator(lang)
    title = result.series.title
    heading, text = {
        "registered": (t["selfreg.registered.title"], t["selfreg.registered"]),
        "already_registered": (t["selfreg.registered.title"], t["selfreg.already_registered"]),
        "waitlisted": (t["selfreg.waitlisted.title"], t["selfreg.waitlisted"]),
        "already_waitlisted": (t["selfreg.waitlisted.title"], t["selfreg.waitlisted"]),
    }[result.outcome]
    response = page(
        request,
        "selfreg_done.html",
        lang=lang,
        heading=heading,
        text=text.format(title=title, position=result.position),
        title=title,
        slug=result.series.slug,
    )
    sessions.set_cookie(response, done.session_secret, secure=secure_cookies(request))
    return response


# The physician's page ------------------------------------------------------------------------


async def me_unregister(request: web.Request) -> web.StreamResponse:
    row, physician = await _physician_session(request)
    await form_with_csrf(request, row)
    with contextlib.suppress(NotFoundError):  # gone already (a second click): the page says
        await registration_service.unregister(
            request.app[SERVICES], path_id(request, "series_id"), physician.id or 0
        )
    raise web.HTTPSeeOther("/me#my-series")


async def me_leave_waitlist(request: web.Request) -> web.StreamResponse:
    row, physician = await _physician_session(request)
    await form_with_csrf(request, row)
    await self_registration_service.leave_waitlist(
        request.app[SERVICES], path_id(request, "series_id"), physician.id or 0
    )
    raise web.HTTPSeeOther("/me#my-series")


# The organiser's series page -----------------------------------------------------------------

ORGANISER_LISTS = ("registered", "waitlisted", "pending")


def _at(value: datetime | None, timezone: str, lang: str) -> str:
    return long_date(value.astimezone(zoneinfo.ZoneInfo(timezone)).date(), lang) if value else ""


def _unkept(numbers: list[UnkeptNumber]) -> list[dict[str, str]]:
    """What the organiser's list says of each number a request gave that did not reach the
    physician's record: the number, and who holds it (with a link), if anyone does."""
    return [
        {
            "field": n.field.upper(),
            "number": n.number,
            "holder": f"{n.holder.first_name} {n.holder.last_name}" if n.holder else "",
            "href": f"/organizer/physicians/{n.holder.id}" if n.holder else "",
        }
        for n in numbers
    ]


async def organiser_registrations(request: web.Request, series: Series) -> dict[str, Any]:
    """Who is registered, waitlisted or yet to confirm (``?status=``), a page at a time."""
    lang = language(request)
    status = request.query.get("status", "registered")
    if status not in ORGANISER_LISTS:
        status = "registered"
    series_id = series.id or 0
    rows: list[dict[str, Any]] = []
    services = request.app[SERVICES]
    found: Any
    if status == "registered":
        name = SELF_REGISTRATIONS + "-registered"
        listed = await self_registration_service.registered_page(
            services, series_id, page_request(request, name, (int,))
        )
        found = listed.registered
        rows = [
            {
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "at": _at(r.created_at, series.timezone, lang),
                "unkept": _unkept(listed.unkept.get(p.id or 0, [])),
            }
            for r, p in found.rows
        ]
    else:
        name = WAITLIST if status == "waitlisted" else SELF_REGISTRATIONS
        types: tuple[Any, ...] = (datetime, int) if status == "waitlisted" else (int,)
        listed = await self_registration_service.requests_page(
            services, series_id, page_request(request, name, types), status=status
        )
        found = listed.requests
        rows = [
            {
                "position": place,
                "name": f"{r.first_name} {r.last_name}",
                "email": r.email,
                "at": _at(r.created_at, series.timezone, lang),
                "unkept": _unkept(listed.unkept.get(r.id or 0, [])),
            }
            for r, place in found.rows
        ]
    counts = listed.counts
    after, before = cursors(name, found)
    base = f"{request.path}?status={status}"
    return {
        "status": status,
        "counts": counts,
        "rows": rows,
        "pager": {
            "next": f"{base}&cursor={after}#registrations" if after else None,
            "previous": f"{base}&cursor={before}#registrations" if before else None,
            "first": f"{base}#registrations" if request.query.get("cursor") else None,
        },
    }
