"""The organiser's pages: sign-in, series, occurrences, attendance, outbox. Thin handlers: parse, call one service, render."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_timedelta, get_day_names
from babel.numbers import format_percent
from pydantic import TypeAdapter, ValidationError

from schedules import recurrence
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
from schedules.wording import credit_amount, labelled, locale_of, number
from tracker.domain.attendance import unmatched_reasons
from tracker.domain.listing import Page
from tracker.domain.localtime import (
    language_name,
    long_date,
    when,
    when_named,
    when_zoned,
    zone_name,
)
from tracker.domain.models import AttendanceEvent, WebSession
from tracker.domain.numerals import whole_number
from tracker.domain.unmatched_groups import GroupKey
from tracker.domain.validation import validation_messages
from tracker.errors import FinalCreditsError
from tracker.http.api.mail import STATUSES
from tracker.http.keys import DATABASE, MAIL, SERVICES, SETTINGS
from tracker.http.pages import self_registration as self_registration_pages
from tracker.http.pages import sessions
from tracker.http.pages.chart import svg
from tracker.http.pages.errors import HTML_ERRORS, quality
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.recurrence import (
    ENDS,
    POSITIONS,
    REPEATS,
    WEEKDAYS,
    PickerError,
    picker_posted,
    picker_values,
    rule_from_picker,
)
from tracker.http.pages.render import form_with_csrf, message_page, page, secure_cookies
from tracker.http.paging import (
    ATTENDANCE,
    OUTBOX,
    PHYSICIANS,
    cursors,
    page_request,
    query_text,
)
from tracker.http.parsing import decimal_text, path_id, read_form
from tracker.http.problems import HTTPProblem, problem_response
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


async def organizer_sign_out(request: web.Request) -> web.StreamResponse:
    """Sign out (a POST with the session's CSRF token): the session row goes, the cookie too."""
    row = await _organizer_session(request)
    await form_with_csrf(request, row)
    response = web.HTTPSeeOther("/organizer/login")
    raw = sessions.cookie_of(request)
    if raw:
        await web_sessions.sign_out(request.app[DATABASE], raw)
    sessions.forget_cookie(response)
    raise response


async def _organizer_session(request: web.Request) -> WebSession:
    row = await sessions.current(request, kind="organizer")
    if row is None:
        raise web.HTTPSeeOther("/organizer/login")
    return row


#: For the other organiser page modules: the signed-in organiser's session (else to sign-in).
async def organizer_session(request: web.Request) -> WebSession:
    return await _organizer_session(request)


CREDIT_FIELD = "credit:"
REMINDER_FIELD = "reminder:"
_DURATION = TypeAdapter(timedelta)
#: The reminder offsets the form offers (a series' own others are shown too).
REMINDER_CHOICES = ("P7D", "P2D", "P1D", "PT2H", "PT1H", "PT30M", "PT15M")


@functools.cache
def timezone_names() -> tuple[str, ...]:
    """Every zone a series may have: the timezone field's searchable list."""
    return tuple(sorted(recurrence.timezone_names()))


def _credit_fields(labels: dict[str, str], series: Series | None = None) -> list[tuple[str, str]]:
    """``(code, label)`` of every credit type the series form shows: each known type, and any
    the series designates (so that the form can show and keep every designation)."""
    shown = dict(labels)
    for credit in series.credits if series else []:
        shown.setdefault(str(credit["type"]), str(credit["type"]))
    return sorted(shown.items())


def _reminder_choices(lang: str, chosen: list[str]) -> list[tuple[str, str]]:
    """``(offset, label)`` of each reminder box: the usual offsets and the series' own."""
    offsets = list(REMINDER_CHOICES) + [r for r in chosen if r not in REMINDER_CHOICES]
    t = translator(lang)
    choices = []
    for offset in offsets:
        try:
            delta = _DURATION.validate_python(offset)
            seconds = int(delta.total_seconds())
            # the exact amount in the largest whole unit (babel would round 90 min to 2 hours)
            unit: Literal["day", "hour", "minute"] = (
                "day" if seconds % 86400 == 0 else "hour" if seconds % 3600 == 0 else "minute"
            )
            label = t["org.reminder.before"].format(
                delta=format_timedelta(delta, granularity=unit, threshold=10**9, locale=lang)
            )
        except ValidationError:
            label = offset
        choices.append((offset, label))
    return choices


def _form_values(series: Series | None = None) -> dict[str, Any]:
    if series is None:
        return {
            "title": "",
            "description": "",
            "timezone": "Europe/Paris",
            "start": "",
            "duration_minutes": 60,
            "join_url": "",
            "credits": {"AMA_PRA_1": "1"},
            "min_attendance_percent": "",
            "reminders": ["P1D", "PT1H"],
            "language": "fr",
            "zoom_webinar_id": "",
            "pars_activity_id": "",
            "dpc_action_ref": "",
            "council_accreditation_ref": "",
            "public": True,
            "registration": "closed",
            "capacity": "",
            **picker_values(None, None, "Europe/Paris"),
            "repeat": "weekly",
        }
    return {
        "title": series.title,
        "description": series.description,
        "timezone": series.timezone,
        "start": series.start_local.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": series.duration_minutes,
        "join_url": series.join_url,
        "credits": {str(c["type"]): f"{float(str(c['max'])):g}" for c in series.credits},
        "min_attendance_percent": series.min_attendance_percent
        if series.min_attendance_percent is not None
        else "",
        "reminders": list(series.reminders),
        "language": series.language,
        "zoom_webinar_id": series.zoom_webinar_id or "",
        "pars_activity_id": series.pars_activity_id or "",
        "dpc_action_ref": series.dpc_action_ref or "",
        "council_accreditation_ref": series.council_accreditation_ref or "",
        "public": series.public,
        "registration": series.registration,
        "capacity": series.capacity if series.capacity is not None else "",
        **picker_values(series.rrule, series.start_local.date(), series.timezone),
    }


def _posted_values(form: dict[str, str]) -> dict[str, Any]:
    """What was typed, to show the form again with its errors."""
    credits = {
        k.removeprefix(CREDIT_FIELD): v for k, v in form.items() if k.startswith(CREDIT_FIELD)
    }
    values: dict[str, Any] = {**form, "credits": credits, **picker_posted(form)}
    if "reminders_shown" in form:
        values["reminders"] = _posted_reminders(form)
    if "public_shown" in form:
        values["public"] = bool(form.get("public"))
    return values


def _posted_reminders(form: dict[str, str]) -> list[str]:
    return [k.removeprefix(REMINDER_FIELD) for k in form if k.startswith(REMINDER_FIELD)]


def _posted_credits(
    form: dict[str, str], keep: list[StoredCredit] | None = None
) -> list[dict[str, Any]]:
    """The designations typed in the form (an emptied or zero field removes its type), plus
    those of ``keep`` that the form had no field for: a save never drops what it did not show."""
    credits: list[dict[str, Any]] = []
    for name, value in form.items():
        if not name.startswith(CREDIT_FIELD) or not value.strip():
            continue
        typed = decimal_text(value)
        try:
            amount_given = float(typed)
        except ValueError:
            raise PickerError(name, "org.bad.credit") from None
        if amount_given > 0:
            credits.append({"type": name.removeprefix(CREDIT_FIELD), "max": typed})
    credits += [
        {"type": c["type"], "max": c["max"]}
        for c in keep or []
        if f"{CREDIT_FIELD}{c['type']}" not in form
    ]
    return credits


def _series_payload(form: dict[str, str], keep: list[StoredCredit] | None = None) -> dict[str, Any]:
    """The API's body from the form: the rule from the picker (or the raw advanced field),
    reminders and ``public`` only when the form showed them (an older page keeps them)."""
    timezone = form.get("timezone", "").strip()
    if timezone and timezone not in timezone_names():
        raise PickerError("timezone", "org.bad.timezone")
    payload: dict[str, Any] = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "timezone": timezone,
        "start": form.get("start", ""),
        "duration_minutes": form.get("duration_minutes") or 0,
        "rrule": rule_from_picker(form),
        "join_url": form.get("join_url", ""),
        "credits": _posted_credits(form, keep),
        "min_attendance_percent": decimal_text(form.get("min_attendance_percent", "")) or None,
        "language": form.get("language", "en"),
        "zoom_webinar_id": form.get("zoom_webinar_id", "").strip() or None,
        "pars_activity_id": form.get("pars_activity_id", "").strip() or None,
        "dpc_action_ref": form.get("dpc_action_ref", "").strip() or None,
        "council_accreditation_ref": form.get("council_accreditation_ref", "").strip() or None,
        "registration": form.get("registration", "closed"),
        "capacity": form.get("capacity", "").strip() or None,
    }
    if "reminders_shown" in form:
        payload["reminders"] = _posted_reminders(form)
    if "public_shown" in form:
        payload["public"] = bool(form.get("public"))
    return payload


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


def _bad(t: dict[str, str], field: str) -> str:
    return t.get(f"org.bad.{field}", t["org.bad.other"])


def field_errors(
    exc: Exception, lang: str, form: dict[str, str], credits: list[str]
) -> dict[str, str]:
    """``{form field: message in the page's language}`` for a refused series form: each
    message goes next to its field (``""``: the form as a whole). ``credits`` are the types
    in the order they were sent, to place an error on ``credits.1.max``."""
    t = translator(lang)
    picked = form.get("repeat") not in (None, "custom")
    if isinstance(exc, PickerError):
        return {exc.field: t[exc.key]}
    if isinstance(exc, StartOffRuleError):
        return {"start": _off_rule_message(exc, lang)}
    if isinstance(exc, InvalidInputError):
        if exc.field == "rrule":
            return {"repeat": _bad(t, "repeat")} if picked else {"rrule": _bad(t, "rrule")}
        return {exc.field: _bad(t, exc.field)}
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for item in exc.errors():
            loc = [str(part) for part in item["loc"]]
            field = loc[0] if loc else ""
            if field == "credits" and len(loc) > 1 and loc[1].isdigit():
                index = int(loc[1])
                field = f"{CREDIT_FIELD}{credits[index]}" if index < len(credits) else "credits"
                errors.setdefault(field, t["org.bad.credit"])
            elif field == "rrule" and picked:
                errors.setdefault("repeat", _bad(t, "repeat"))
            else:
                errors.setdefault(field, _bad(t, field))
        return errors
    if isinstance(exc, OccurrenceConflictError):
        return {"": t["org.bad.conflict"]}
    return {"": t["org.bad.other"]}


OCCURRENCES_PER_PAGE = 50
#: With no date asked, the series page starts five weeks back (recent sessions' attendance).
RECENT = timedelta(days=35)


@dataclass(frozen=True)
class OccurrenceFilter:
    """The series page's sessions asked: from and to days (the series' own days, read in its
    timezone: a session at 00:30 in Paris on 3 March is on 3 March), a page number."""

    first_day: date | None
    last_day: date | None
    page: int
    start_text: str
    end_text: str
    error: str | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * OCCURRENCES_PER_PAGE

    def bounds(self, timezone: str) -> tuple[datetime, datetime | None]:
        """The instants these days span in ``timezone`` (no first day: five weeks back),
        from the first day's midnight to the midnight after the last day."""
        tz = ZoneInfo(timezone)

        def midnight(day: date, beyond: datetime) -> datetime:
            try:
                return datetime.combine(day, time(), tz).astimezone(UTC)
            except OverflowError:  # year 1 or 9999 in a zone east or west of UTC
                return beyond

        since = utcnow() - RECENT
        if self.first_day:
            since = midnight(self.first_day, datetime.min.replace(tzinfo=UTC))
        until = None
        if self.last_day:
            until = midnight(self.last_day + timedelta(days=1), datetime.max.replace(tzinfo=UTC))
        return since, until


def _occurrence_filter(request: web.Request) -> OccurrenceFilter:
    """Read ``from``, ``to`` (YYYY-MM-DD) and ``page``; a bad value is ignored and said."""
    t = translator(language(request))
    q = request.query
    start_text, end_text = q.get("from", "").strip()[:10], q.get("to", "").strip()[:10]
    error = None
    first_day = last_day = None
    try:
        first_day = date.fromisoformat(start_text) if start_text else None
        last_day = date.fromisoformat(end_text) if end_text else None
    except ValueError:
        error = t["org.bad.date"]
    if last_day == date.max:
        last_day = None  # no day follows it: no end
    page_text = q.get("page", "1")
    number = whole_number(page_text, max_digits=3) or 1
    return OccurrenceFilter(first_day, last_day, number, start_text, end_text, error)


def _occurrence_pager(
    request: web.Request, asked: OccurrenceFilter, more: bool
) -> dict[str, str | None]:
    kept = {k: v for k, v in request.query.items() if k != "page"}

    def link(number: int) -> str:
        return f"{request.path}?{urlencode({**kept, 'page': str(number)})}#occurrences"

    return {
        "next": link(asked.page + 1) if more else None,
        "previous": link(asked.page - 1) if asked.page > 1 else None,
        "first": link(1) if asked.page > 2 else None,
    }


def _form_context(
    request: web.Request, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """What ``org_series_form.html`` needs beyond the values: the lists it offers."""
    lang = language(request)
    return {
        "values": values,
        "errors": errors,
        "zones": timezone_names(),
        "weekdays": [
            (code, get_day_names("wide", locale=lang)[i]) for i, code in enumerate(WEEKDAYS)
        ],
        "repeats": REPEATS,
        "ends_choices": ENDS,
        "positions": POSITIONS,
        "reminder_choices": _reminder_choices(lang, list(values.get("reminders", []))),
    }


async def organizer_home(
    request: web.Request,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    row = await _organizer_session(request)
    rows = await series_service.all_series(request.app[SERVICES])
    errors = errors or ({"": error} if error else {})
    return page(
        request,
        "org_series.html",
        status=422 if errors else 200,
        series=rows,
        csrf=row.csrf,
        credit_fields=_credit_fields(request.app[MAIL].labels.of(language(request))),
        form_action="/organizer/series",
        submit=translator(language(request))["org.create"],
        # a partial form re-shows defaults
        **_form_context(request, {**_form_values(), **(values or {})}, errors),
    )


def _refused(exc: Exception, request: web.Request, form: dict[str, str]) -> dict[str, str]:
    sent = [k.removeprefix(CREDIT_FIELD) for k, v in form.items() if k.startswith(CREDIT_FIELD)]
    try:
        credits = [str(c["type"]) for c in _posted_credits(form)]
    except PickerError:
        credits = sent
    return field_errors(exc, language(request), form, credits)


async def organizer_create_series(request: web.Request) -> web.StreamResponse:
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    try:
        data = SeriesCreate.model_validate(_series_payload(form))
        series = await series_service.create_series(request.app[SERVICES], data)
    except (ValidationError, InvalidInputError, ValueError) as exc:
        return await organizer_home(
            request, errors=_refused(exc, request, form), values=_posted_values(form)
        )
    raise web.HTTPSeeOther(f"/organizer/series/{series.id}")


async def organizer_series(
    request: web.Request,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    row = await _organizer_session(request)
    lang = language(request)
    series_id = path_id(request)
    asked = _occurrence_filter(request)
    try:
        overview = await series_service.series_overview(
            request.app[SERVICES],
            series_id,
            window=asked.bounds,
            offset=asked.offset,
            limit=OCCURRENCES_PER_PAGE,
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    series, rows, final = overview.series, overview.occurrences, overview.final
    registrations = await self_registration_pages.organiser_registrations(request, series)
    tz = ZoneInfo(series.timezone)
    occurrences = [
        {
            "id": o.id,
            "when": when_named(o.start, series.timezone, lang),
            "status": o.status,
            "final": o.id in final,
            "local_value": o.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "registered": overview.counts.get(o.id or 0, (0, 0))[0],
            "attended": overview.counts.get(o.id or 0, (0, 0))[1],
        }
        for o in rows
    ]
    errors = errors or ({"": error} if error else {})
    return page(
        request,
        "org_series_edit.html",
        status=422 if errors else 200,
        series=series,
        occurrences=occurrences,
        zone=zone_name(series.timezone, lang),
        occurrence_pager=_occurrence_pager(request, asked, overview.more),
        occurrence_filter=asked,
        bulk_empty=request.query.get("bulk") == "empty",
        reg=registrations,
        csrf=row.csrf,
        credit_fields=_credit_fields(request.app[MAIL].labels.of(lang), series),
        rules_note=translator(lang)["org.rules.kept"].format(
            final=overview.final_sessions, kept=overview.keeping_rules
        )
        if overview.final_sessions
        else "",
        form_action=f"/organizer/series/{series.id}",
        submit=translator(lang)["save"],
        **_form_context(request, {**_form_values(series), **(values or {})}, errors),
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
            request, errors=_refused(exc, request, form), values=_posted_values(form)
        )
    raise web.HTTPSeeOther(f"/organizer/series/{series_id}")


async def organizer_preview(request: web.Request) -> web.Response:
    """The next occurrences of the series being typed (for the live preview), and the rule
    the picker makes of its fields."""
    await _organizer_session(request)
    q = dict(request.query)
    lang = language(request)
    t = translator(lang)
    rule_text: str | None = None
    try:
        tz = resolve_timezone(q.get("timezone", ""))
        rule_text = rule_from_picker(q)
        rule = normalise_rule(rule_text, tz) if rule_text else None
        start = datetime.fromisoformat(q.get("start", ""))
        if start.tzinfo is not None:
            raise ValueError("local time expected")
        now = utcnow()
        check_local("start", start, tz, now=now)
        starts = await expand(
            rule=rule,
            start_local=start,
            tz=tz,
            until=max(now, start.replace(tzinfo=tz)) + timedelta(days=400),
        )
        lines = [when(s, tz.key, lang) for s in starts if s >= now][:12]
    except PickerError as exc:
        lines = [labelled(t["error"], t[exc.key], lang)]
    except InvalidInputError as exc:
        lines = [labelled(t["error"], _bad(t, exc.field), lang)]
    except (ValueError, KeyError):
        lines = [labelled(t["error"], t["org.preview.incomplete"], lang)]
    return web.json_response({"lines": lines, "rule": rule_text or ""})


async def organizer_occurrence_action(request: web.Request) -> web.StreamResponse:
    """Cancel (after a confirmation page: it notifies every registered physician), restore or
    move one occurrence, through the same domain function as the API (final credits: 409)."""
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    occurrence_id = path_id(request)
    action = form.get("action")
    if action in ("cancel", "move") and await series_service.holds_final_credits(
        request.app[SERVICES], occurrence_id
    ):
        return _final_refused(request, occurrence_id)
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
        if isinstance(exc, FinalCreditsError):
            return _final_refused(request, occurrence_id)
        if isinstance(exc, OccurrenceConflictError):
            text = t["org.bad.conflict"]
        elif isinstance(exc, InvalidInputError):
            text = _bad(t, exc.field)
        else:
            text = t["org.bad.start"]
        return message_page(
            request,
            t["error"],
            text,
            status=409 if isinstance(exc, OccurrenceConflictError) else 422,
        )
    raise web.HTTPSeeOther(f"/organizer/series/{occurrence.series_id}#occurrence-{occurrence_id}")


def _prefers_json(accept: str) -> bool:
    """True when ``Accept`` ranks JSON above HTML (a script); ``*/*`` or none: a page."""
    json = max(quality(accept, "application/json"), quality(accept, "application/problem+json"))
    html = max(quality(accept, "text/html"), quality(accept, "application/xhtml+xml"))
    return json > html


def _final_refused(request: web.Request, occurrence_id: int) -> web.Response:
    """409 at once for a cancel or move of a session whose credits are final (a forged form:
    the page offers neither): the localised page, or problem+json for a JSON client."""
    if _prefers_json(request.headers.get("Accept", "")):
        request[HTML_ERRORS] = False  # this answer is meant for the script that asked
        return problem_response(409, str(FinalCreditsError(occurrence_id)))
    t = translator(language(request))
    return message_page(request, t["error"], t["org.final.refused"], status=409)


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
    row = await _organizer_session(request)
    lang = language(request)
    labels = request.app[MAIL].labels.of(lang)
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
    counts, zone = view.per_minute, ZoneInfo(series.timezone)
    return page(
        request,
        "org_occurrence.html",
        csrf=row.csrf,
        title=series.title,
        when=when(occurrence.start, series.timezone, lang),
        chart=svg(
            counts,
            title=translator(lang)["org.connected"],
            start=occurrence.start,
            tz=series.timezone,
        ),
        occurrence_id=occurrence_id,
        series_id=series.id,
        summary=view.summary,
        share=(
            format_percent(
                view.summary.over_threshold / view.summary.attended, locale=locale_of(lang)
            )
            if view.summary and view.summary.attended and view.summary.threshold_minutes is not None
            else "—"
        ),
        median=(
            number(view.summary.median_minutes, lang)
            if view.summary and view.summary.median_minutes is not None
            else "—"
        ),
        threshold=(
            number(view.summary.threshold_minutes, lang)
            if view.summary and view.summary.threshold_minutes is not None
            else None
        ),
        q=search or "",
        pager=_pager(request, ATTENDANCE, attendees),
        rows=[
            {
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "minutes": number(round(a.seconds / 60, 2), lang),
                "receipt": f"/organizer/occurrences/{occurrence_id}/receipts/{p.id}",
                "final": a.final,
                "credits": ", ".join(
                    f"{labels.get(c, c)} {credit_amount(v, lang)}"
                    for c, v in sorted(a.credits.items())
                ),
                "revoked": revoked and long_date(revoked.astimezone(zone).date(), lang),
            }
            for a, p, revoked in attendees.rows
        ],
    )


async def organizer_physicians(
    request: web.Request,
    *,
    new_errors: dict[str, str] | None = None,
    new_values: dict[str, str] | None = None,
) -> web.Response:
    """Physicians in the order they were added, a page at a time, with a search box (any
    part of a name, email, NPI, RPPS or board id; any case, accents folded)."""
    row = await _organizer_session(request)
    asked = page_request(request, PHYSICIANS, (int,))
    search = query_text(request, "q")
    found = await lists.physicians_page(request.app[SERVICES], asked, search=search)
    return page(
        request,
        "org_physicians.html",
        status=422 if new_errors else 200,
        errors=new_errors or {},
        new=new_values or {"language": "fr", "timezone": "Europe/Paris"},
        zones=timezone_names(),
        csrf=row.csrf,
        q=search or "",
        pager=_pager(request, PHYSICIANS, found),
        physicians=[
            {
                "id": p.id,
                "name": f"{p.first_name} {p.last_name}",
                "email": p.email,
                "identifiers": ", ".join(
                    [f"NPI {p.npi}"] * bool(p.npi)
                    + [f"RPPS {p.rpps}"] * bool(p.rpps)
                    + [f"{board} {number}" for board, number in sorted(p.board_ids.items())]
                ),
                "language": language_name(p.language, language(request)),
            }
            for p in found.rows
        ],
    )


UNMATCHED_GROUPS_PER_PAGE = 50


def _group_key(form: dict[str, str]) -> GroupKey:
    """The group a form names (its hidden fields), or 400."""

    def number(name: str) -> int | None:
        value = form.get(name, "")
        if not value:
            return None
        found = whole_number(value)
        if found is None:
            raise web.HTTPBadRequest(text=f"{name} must be a whole number")
        return found

    who = form.get("who", "")
    if not who or len(who) > 400:
        raise web.HTTPBadRequest(text="the group is missing")
    return GroupKey(
        who, number("occurrence_id"), number("series_id"), form.get("zoom_webinar_id") or None
    )


async def organizer_unmatched(
    request: web.Request, *, error: str | None = None, error_group: str | None = None
) -> web.Response:
    """Unmatched events grouped per person and session, oldest first, a page at a time: each
    group is matched to a physician, or dismissed, in one action."""
    row = await _organizer_session(request)
    lang = language(request)
    search = query_text(request, "q")
    page_text = request.query.get("page", "1")
    number = whole_number(page_text, max_digits=4) or 1
    groups, more = await attendance_service.unmatched_groups(
        request.app[SERVICES],
        offset=(number - 1) * UNMATCHED_GROUPS_PER_PAGE,
        limit=UNMATCHED_GROUPS_PER_PAGE,
        search=search,
    )
    kept = {k: v for k, v in request.query.items() if k != "page"}

    def link(n: int) -> str:
        return f"{request.path}?{urlencode({**kept, 'page': str(n)})}"

    return page(
        request,
        "org_unmatched.html",
        status=422 if error else 200,
        csrf=row.csrf,
        error=error,
        error_group=error_group,
        q=search or "",
        done=request.query.get("done", ""),
        pager={
            "next": link(number + 1) if more else None,
            "previous": link(number - 1) if number > 1 else None,
            "first": link(1) if number > 2 else None,
        },
        groups=[
            {
                "id": f"g{g.sample_id}",
                "key": g.key,
                "email": g.email,
                "events": g.events,
                "first": when_zoned(g.first_at, zone, lang),
                "last": when_zoned(g.last_at, zone, lang),
                "reason": _reason(sample, translator(lang), lang, zone),
                "needs_physician": sample.kind != "ended" and sample.physician_id is None,
            }
            for g, sample, zone in groups
        ],
    )


def _reason(event: AttendanceEvent, t: dict[str, str], lang: str, zone: str) -> str:
    """Why an event is unmatched, in the page's language (times in ``zone``, the list's)."""
    return t["unmatched.and"].join(
        t[f"unmatched.{code}"].format(
            **{k: when_zoned(v, zone, lang) if isinstance(v, datetime) else v for k, v in f.items()}
        )
        for code, f in unmatched_reasons(event)
    )


async def organizer_unmatched_group(request: web.Request) -> web.StreamResponse:
    """Match every event of a group to the physician with the address typed, or dismiss the
    group (the events are kept, off the list)."""
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    key = _group_key(form)
    t = translator(language(request))
    if form.get("action") == "dismiss":
        await attendance_service.dismiss_group(request.app[SERVICES], key)
        raise web.HTTPSeeOther("/organizer/unmatched?done=dismissed")
    email = form.get("email", "").strip()[:320]
    matched = await attendance_service.match_group_by_hand(request.app[SERVICES], key, email)
    if matched is None:
        return await organizer_unmatched(
            request, error=t["org.unmatched.nobody"].format(email=email), error_group=key.who
        )
    raise web.HTTPSeeOther("/organizer/unmatched?done=matched")


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
        t = translator(language(request))
        return await organizer_unmatched(
            request, error=t["org.unmatched.nobody"].format(email=email)
        )
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
        counts=view.counts,
        retried=request.query.get("retried", ""),
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


async def organizer_retry_failed(request: web.Request) -> web.StreamResponse:
    """Send every failed message (of the kind shown) again, in one action."""
    row = await _organizer_session(request)
    form = await form_with_csrf(request, row)
    kind = form.get("kind", "").strip()[:64] or None
    count = await outbox_service.retry_every_failed(request.app[SERVICES], kind=kind)
    kept = {"kind": kind} if kind else {}
    raise web.HTTPSeeOther(f"/organizer/outbox?{urlencode({**kept, 'retried': str(count)})}")
