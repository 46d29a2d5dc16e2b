"""The organiser's pages: sign-in, series, occurrences, attendance, outbox. Thin handlers: parse, call one service, render."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from schedules.clock import utcnow
from schedules.errors import (
    InvalidInputError,
    NotFoundError,
    OccurrenceConflictError,
    StartOffRuleError,
)
from schedules.models import Series, StoredCredit
from schedules.recurrence import expand, normalise_rule, resolve_timezone
from schedules.schemas import OccurrenceUpdate, SeriesCreate, SeriesUpdate
from schedules.window import check_local
from tracker.domain.attendance import unmatched_reason
from tracker.domain.listing import Page
from tracker.domain.localtime import amount, long_date, when
from tracker.domain.models import WebSession
from tracker.domain.validation import validation_messages
from tracker.http.api.mail import STATUSES
from tracker.http.keys import DATABASE, MAIL, SERVICES, SETTINGS
from tracker.http.pages import self_registration as self_registration_pages
from tracker.http.pages import sessions
from tracker.http.pages.chart import svg
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import form_with_csrf, message_page, page, secure_cookies
from tracker.http.paging import (
    ATTENDANCE,
    OUTBOX,
    PHYSICIANS,
    UNMATCHED,
    cursors,
    page_request,
    query_text,
)
from tracker.http.parsing import path_id, read_form
from tracker.http.problems import HTTPProblem
from tracker.services import attendance as attendance_service
from tracker.services import lists, web_sessions
from tracker.services import outbox as outbox_service
from tracker.services import series as series_service


def _login_form(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    """The sign-in form, with its CSRF token in a hidden field and in a cookie."""
    csrf = sessions.login_csrf(request)
    response = page(request, "org_login.html", status=status, error=error, csrf=csrf)
    sessions.set_login_csrf(response, csrf, secure=secure_cookies(request))
    return response


async def organizer_login_page(request: web.Request) -> web.Response:
    return _login_form(request)


async def organizer_login(request: web.Request) -> web.StreamResponse:
    """Sign in: only from our own form (its CSRF token, our origin), then the token is checked."""
    form = await read_form(request)
    t = translator(language(request))
    from_our_form = sessions.same_origin(
        request, request.app[SETTINGS].base_url
    ) and sessions.login_csrf_ok(request, str(form.get("csrf", "")))
    if not from_our_form:
        return _login_form(request, status=403, error=t["signin.stale"])
    token = str(form.get("token", "")).strip()
    raw = await web_sessions.sign_in_organizer(request.app[DATABASE], token)
    if raw is None:
        return _login_form(request, status=401, error=t["signin.bad"])
    response = web.HTTPSeeOther("/organizer")
    sessions.set_cookie(response, raw, secure=secure_cookies(request))
    raise response


async def _organizer_session(request: web.Request) -> WebSession:
    row = await sessions.current(request, kind="organizer")
    if row is None:
        raise web.HTTPSeeOther("/organizer/login")
    return row


CREDIT_FIELD = "credit:"


def _credit_fields(labels: dict[str, str], series: Series | None = None) -> list[tuple[str, str]]:
    """``(code, label)`` of every credit type the series form shows: each known type, and any
    the series designates (so that the form can show and keep every designation)."""
    shown = dict(labels)
    for credit in series.credits if series else []:
        shown.setdefault(str(credit["type"]), str(credit["type"]))
    return sorted(shown.items())


def _form_values(series: Series | None = None) -> dict[str, Any]:
    if series is None:
        return {
            "title": "",
            "description": "",
            "timezone": "Europe/Paris",
            "start": "",
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "join_url": "",
            "credits": {"AMA_PRA_1": "1"},
            "min_attendance_percent": "",
            "language": "fr",
            "zoom_webinar_id": "",
            "pars_activity_id": "",
            "dpc_action_ref": "",
            "council_accreditation_ref": "",
            "registration": "closed",
            "capacity": "",
        }
    return {
        "title": series.title,
        "description": series.description,
        "timezone": series.timezone,
        "start": series.start_local.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": series.duration_minutes,
        "rrule": series.rrule or "",
        "join_url": series.join_url,
        "credits": {str(c["type"]): f"{float(str(c['max'])):g}" for c in series.credits},
        "min_attendance_percent": series.min_attendance_percent
        if series.min_attendance_percent is not None
        else "",
        "language": series.language,
        "zoom_webinar_id": series.zoom_webinar_id or "",
        "pars_activity_id": series.pars_activity_id or "",
        "dpc_action_ref": series.dpc_action_ref or "",
        "council_accreditation_ref": series.council_accreditation_ref or "",
        "registration": series.registration,
        "capacity": series.capacity if series.capacity is not None else "",
    }


def _posted_values(form: dict[str, str]) -> dict[str, Any]:
    """What was typed, to show the form again with an error."""
    credits = {
        k.removeprefix(CREDIT_FIELD): v for k, v in form.items() if k.startswith(CREDIT_FIELD)
    }
    return {**form, "credits": credits}


def _posted_credits(
    form: dict[str, str], keep: list[StoredCredit] | None = None
) -> list[dict[str, Any]]:
    """The designations typed in the form (an emptied or zero field removes its type), plus
    those of ``keep`` that the form had no field for: a save never drops what it did not show."""
    credits: list[dict[str, Any]] = [
        {"type": name.removeprefix(CREDIT_FIELD), "max": value.strip()}
        for name, value in form.items()
        if name.startswith(CREDIT_FIELD) and value.strip() and float(value) > 0
    ]
    credits += [
        {"type": c["type"], "max": c["max"]}
        for c in keep or []
        if f"{CREDIT_FIELD}{c['type']}" not in form
    ]
    return credits


def _series_payload(form: dict[str, str], keep: list[StoredCredit] | None = None) -> dict[str, Any]:
    return {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "timezone": form.get("timezone", ""),
        "start": form.get("start", ""),
        "duration_minutes": form.get("duration_minutes") or 0,
        "rrule": form.get("rrule", "").strip() or None,
        "join_url": form.get("join_url", ""),
        "credits": _posted_credits(form, keep),
        "min_attendance_percent": form.get("min_attendance_percent") or None,
        "language": form.get("language", "en"),
        "zoom_webinar_id": form.get("zoom_webinar_id", "").strip() or None,
        "pars_activity_id": form.get("pars_activity_id", "").strip() or None,
        "dpc_action_ref": form.get("dpc_action_ref", "").strip() or None,
        "council_accreditation_ref": form.get("council_accreditation_ref", "").strip() or None,
        "registration": form.get("registration", "closed"),
        "capacity": form.get("capacity", "").strip() or None,
    }


def _off_rule_message(exc: StartOffRuleError, lang: str) -> str:
    """The refusal of a start its rule does not give, in the page's language, naming the
    first date the rule does give."""
    start, first = (long_date(exc.start.date(), lang), long_date(exc.first.date(), lang))
    t = translator(lang)
    if lang == "fr":
        return (
            f"{t['start']}\u00a0: {start} à {exc.start:%H:%M} n’est pas une date de la règle\u202f; "
            f"la première date que donne la règle à partir de là est le {first} à "
            f"{exc.first:%H:%M}. Commencez la série ce jour-là, ou modifiez la règle."
        )
    return (
        f"{t['start']}: {start} at {exc.start:%H:%M} is not a date of the rule; the first date "
        f"the rule gives from there is {first} at {exc.first:%H:%M}. Start the series then, "
        "or change the rule."
    )


def _first_error(exc: Exception, lang: str = "en") -> str:
    if isinstance(exc, StartOffRuleError):
        return _off_rule_message(exc, lang)
    if isinstance(exc, ValidationError):
        first = validation_messages(exc)[0]
        return f"{first['field']}: {first['message']}"
    return str(exc)


async def organizer_home(
    request: web.Request, *, error: str | None = None, values: dict[str, Any] | None = None
) -> web.Response:
    row = await _organizer_session(request)
    rows = await series_service.all_series(request.app[SERVICES])
    return page(
        request,
        "org_series.html",
        status=422 if error else 200,
        series=rows,
        csrf=row.csrf,
        error=error,
        values={**_form_values(), **(values or {})},  # a partial form re-shows defaults
        credit_fields=_credit_fields(request.app[MAIL].labels),
        form_action="/organizer/series",
        submit=translator(language(request))["org.create"],
    )


async def organizer_create_series(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    try:
        data = SeriesCreate.model_validate(_series_payload(form))
        series = await series_service.create_series(request.app[SERVICES], data)
    except (ValidationError, InvalidInputError, ValueError) as exc:
        return await organizer_home(
            request, error=_first_error(exc, language(request)), values=_posted_values(form)
        )
    raise web.HTTPSeeOther(f"/organizer/series/{series.id}")


async def organizer_series(
    request: web.Request, *, error: str | None = None, values: dict[str, Any] | None = None
) -> web.Response:
    row = await _organizer_session(request)
    lang = language(request)
    series_id = path_id(request)
    try:
        overview = await series_service.series_overview(
            request.app[SERVICES], series_id, since=utcnow() - timedelta(days=35)
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    series, rows, final = overview.series, overview.occurrences, overview.final
    registrations = await self_registration_pages.organiser_registrations(request, series)
    tz = ZoneInfo(series.timezone)
    occurrences = [
        {
            "id": o.id,
            "when": when(o.start, series.timezone, lang),
            "status": o.status,
            "final": o.id in final,
            "local_value": o.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        }
        for o in rows
    ]
    return page(
        request,
        "org_series_edit.html",
        status=422 if error else 200,
        series=series,
        occurrences=occurrences,
        reg=registrations,
        csrf=row.csrf,
        error=error,
        values={**_form_values(series), **(values or {})},
        credit_fields=_credit_fields(request.app[MAIL].labels, series),
        form_action=f"/organizer/series/{series.id}",
        submit=translator(lang)["save"],
    )


async def organizer_update_series(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    series_id = path_id(request)
    try:
        current = await series_service.get_series(request.app[SERVICES], series_id)
        data = SeriesUpdate.model_validate(_series_payload(form, keep=current.credits))
        await series_service.update_series(request.app[SERVICES], series_id, data)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except (ValidationError, InvalidInputError, OccurrenceConflictError, ValueError) as exc:
        return await organizer_series(
            request, error=_first_error(exc, language(request)), values=_posted_values(form)
        )
    raise web.HTTPSeeOther(f"/organizer/series/{series_id}")


async def organizer_preview(request: web.Request) -> web.Response:
    """The next occurrences of the series being typed (for the live preview)."""
    await _organizer_session(request)
    q = request.query
    lang = language(request)
    try:
        tz = resolve_timezone(q.get("timezone", ""))
        rule = normalise_rule(q["rrule"], tz) if q.get("rrule") else None
        start = datetime.fromisoformat(q.get("start", ""))
        if start.tzinfo is not None:
            raise ValueError("local time expected")
        now = utcnow()
        check_local("start", start, tz, now=now)
        starts = await expand(
            rule=rule,
            start_local=start,
            tz=tz,
            until=max(now, start.replace(tzinfo=tz)) + timedelta(days=120),
        )
        lines = [when(s, tz.key, lang) for s in starts if s >= now][:8]
    except (ValueError, KeyError, InvalidInputError) as exc:
        lines = [f"{translator(lang)['error']}: {exc}"]
    return web.json_response({"lines": lines})


async def organizer_occurrence_action(request: web.Request) -> web.StreamResponse:
    """Cancel (after a confirmation page: it notifies every registered physician), restore or
    move one occurrence, through the same domain function as the API (final credits: 409)."""
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    occurrence_id = path_id(request)
    action = form.get("action")
    if action == "cancel" and form.get("confirm") != "yes":
        return await _confirm_cancel(request, occurrence_id, row.csrf)
    change: dict[str, Any] = {
        "cancel": {"status": "cancelled"},
        "restore": {"status": "scheduled"},
    }.get(action or "", {})
    if action == "move":
        change = {"start": form.get("start", "")}
    try:
        occurrence = await series_service.change_occurrence(
            request.app[SERVICES], occurrence_id, OccurrenceUpdate.model_validate(change)
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except (ValidationError, InvalidInputError, OccurrenceConflictError) as exc:
        t = translator(language(request))
        return message_page(
            request,
            t["error"],
            _first_error(exc),
            status=409 if isinstance(exc, OccurrenceConflictError) else 422,
        )
    raise web.HTTPSeeOther(f"/organizer/series/{occurrence.series_id}#occurrence-{occurrence_id}")


async def _confirm_cancel(request: web.Request, occurrence_id: int, csrf: str) -> web.Response:
    """The question before a cancel, as a page with one form: it works without JavaScript."""
    lang = language(request)
    try:
        occurrence, series = await series_service.occurrence_of(
            request.app[SERVICES], occurrence_id
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    return page(
        request,
        "org_occurrence_confirm.html",
        title=series.title,
        when=when(occurrence.start, series.timezone, lang),
        occurrence_id=occurrence_id,
        series_id=series.id,
        csrf=csrf,
    )


def _pager(request: web.Request, name: str, page: Page[Any]) -> dict[str, str | None]:
    """Links to the next and previous pages: this page's query (search, filters, language)
    with the other page's cursor."""
    after, before = cursors(name, page)
    kept = {k: v for k, v in request.query.items() if k != "cursor"}

    def link(cursor: str | None) -> str | None:
        return None if cursor is None else f"{request.path}?{urlencode({**kept, 'cursor': cursor})}"

    first = f"{request.path}?{urlencode(kept)}" if kept else request.path
    return {
        "next": link(after),
        "previous": link(before),
        "first": first if request.query.get("cursor") else None,
    }


async def organizer_occurrence(request: web.Request) -> web.Response:
    """The attendance of one session: its chart, then its attendees by name, a page at a time
    (a search by name, email or identifier finds one among thousands)."""
    await _organizer_session(request)
    lang = language(request)
    labels = request.app[MAIL].labels
    occurrence_id = path_id(request)
    asked = page_request(request, ATTENDANCE, (str, str, int))
    search = query_text(request, "q")
    try:
        view = await attendance_service.occurrence_attendance(
            request.app[SERVICES], occurrence_id, asked, search=search
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    occurrence, series, attendees = view.occurrence, view.series, view.attendees
    counts = view.per_minute
    return page(
        request,
        "org_occurrence.html",
        title=series.title,
        when=when(occurrence.start, series.timezone, lang),
        chart=svg(counts, title=translator(lang)["org.connected"], start=occurrence.start),
        q=search or "",
        pager=_pager(request, ATTENDANCE, attendees),
        rows=[
            {
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "minutes": amount(round(a.seconds / 60, 2)),
                "receipt": f"/organizer/occurrences/{occurrence_id}/receipts/{p.id}",
                "final": a.final,
                "credits": ", ".join(
                    f"{labels.get(c, c)} {amount(v)}" for c, v in sorted(a.credits.items())
                ),
            }
            for a, p in attendees.rows
        ],
    )


async def organizer_physicians(request: web.Request) -> web.Response:
    """Physicians in the order they were added, a page at a time, with a search box (any
    part of a name, email, NPI, RPPS or board id; any case, accents folded)."""
    await _organizer_session(request)
    asked = page_request(request, PHYSICIANS, (int,))
    search = query_text(request, "q")
    found = await lists.physicians_page(request.app[SERVICES], asked, search=search)
    return page(
        request,
        "org_physicians.html",
        q=search or "",
        pager=_pager(request, PHYSICIANS, found),
        physicians=[
            {
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "identifiers": ", ".join(
                    [f"NPI {p.npi}"] * bool(p.npi)
                    + [f"RPPS {p.rpps}"] * bool(p.rpps)
                    + [f"{board} {number}" for board, number in sorted(p.board_ids.items())]
                ),
                "language": p.language,
            }
            for p in found.rows
        ],
    )


async def organizer_unmatched(request: web.Request, *, error: str | None = None) -> web.Response:
    row = await _organizer_session(request)
    asked = page_request(request, UNMATCHED, (int,))
    search = query_text(request, "q")
    events = await lists.unmatched_page(request.app[SERVICES], asked, search=search)
    return page(
        request,
        "org_unmatched.html",
        status=422 if error else 200,
        csrf=row.csrf,
        error=error,
        q=search or "",
        pager=_pager(request, UNMATCHED, events),
        events=[
            {
                "id": e.id,
                "kind": e.kind,
                "at": e.at.isoformat(),
                "email": e.email,
                "reason": unmatched_reason(e),
                "needs_physician": e.kind != "ended" and e.physician_id is None,
            }
            for e in events.rows
        ],
    )


async def organizer_match(request: web.Request) -> web.StreamResponse:
    """Match an event by hand to a physician (by email); the fact itself is never changed."""
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    event_id, email = path_id(request), str(form.get("email", ""))
    try:
        matched = await attendance_service.match_by_hand(request.app[SERVICES], event_id, email)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    if not matched:
        return await organizer_unmatched(request, error=f"no physician with email {email}")
    raise web.HTTPSeeOther("/organizer/unmatched")


async def organizer_outbox(request: web.Request) -> web.Response:
    """The outbox, newest first, a page at a time, filtered by status and kind."""
    row = await _organizer_session(request)
    asked = page_request(request, OUTBOX, (int,))
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise HTTPProblem(400, f"status must be one of {', '.join(STATUSES)}")
    kind = query_text(request, "kind")
    view = await lists.outbox_page(
        request.app[SERVICES], asked, status=status, kind=kind, with_kinds=True
    )
    messages, kinds = view.page, view.kinds
    return page(
        request,
        "org_outbox.html",
        csrf=row.csrf,
        messages=messages.rows,
        statuses=STATUSES,
        chosen_status=status or "",
        kinds=kinds,
        kind=kind or "",
        pager=_pager(request, OUTBOX, messages),
    )


async def organizer_retry(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    await form_with_csrf(request, row)
    message_id = path_id(request)
    await outbox_service.retry_message(request.app[SERVICES], message_id)
    raise web.HTTPSeeOther("/organizer/outbox")
