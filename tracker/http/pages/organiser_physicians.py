"""The organiser's pages on physicians (issue 12): one physician's page (series, awards,
requirements, emails; a new welcome, a sign-in link), the CSV import by upload with its
progress and the CLI's line-numbered report, and registering a list of addresses to a series.
Thin handlers: parse, call one service, render."""

from __future__ import annotations

import asyncio
import re

from aiohttp import BodyPartReader, web
from pydantic import ValidationError

from notifications.addresses import normalise_address
from schedules.errors import InvalidInputError, NotFoundError
from schedules.wording import credit_amount, number
from tracker.adapters.csvfiles import decoded
from tracker.adapters.physicians_csv import physician_rows
from tracker.domain.localtime import day, language_name, long_date, when
from tracker.domain.numerals import whole_number
from tracker.domain.schemas import PhysicianCreate, PhysicianUpdate, RequirementCreate
from tracker.errors import (
    ColumnsError,
    DuplicateRowError,
    IdentifierRowError,
    IdentifierTakenError,
    RowError,
)
from tracker.http.keys import MAIL, SERVICES
from tracker.http.pages.award_cells import credits_cell
from tracker.http.pages.i18n import language, name_problem, plural, translator
from tracker.http.pages.organiser import organizer_physicians, organizer_session, timezone_names
from tracker.http.pages.render import form_with_csrf, page, render_text
from tracker.http.pages.sessions import csrf_ok
from tracker.http.parsing import decimal_text, path_id
from tracker.services import imports
from tracker.services import physicians as physician_service
from tracker.services import registrations as registration_service
from tracker.services.physicians import IssuedCertificate

#: The largest CSV the import page takes (42,000 physicians are about 6 MB).
IMPORT_MAX_BYTES = 32 * 1024 * 1024
#: The largest pasted or uploaded list of addresses to register (50,000 addresses or so).
LIST_MAX_BYTES = 4 * 1024 * 1024
#: How often the import page writes its progress while the import runs.
PROGRESS_SECONDS = 0.5
#: Bad lines the import page lists (the rest are counted).
SHOWN_ERRORS = 1000
#: Anything that looks like an address in a pasted list or a CSV: cells, lines, "Name <a@b>".
_ADDRESS = re.compile(r"[^\s,;<>\"'()\[\]]+@[^\s,;<>\"'()\[\]]+")
#: What is left of a pasted list once its addresses are taken out, piece by piece.
_PIECE = re.compile(r"[^\s,;<>\"'()\[\]«»]+")
#: A piece meant as an address that lost its @ (``med03example.org``): a dot before letters.
_ADDRESS_LIKE = re.compile(r"^[\w.+-]+\.[^\W\d_]{2,}$")


def _number(text: str) -> int:
    found = whole_number(text)
    if found is None:
        raise web.HTTPBadRequest(text="a whole number is expected")
    return found


async def organizer_physician(
    request: web.Request,
    *,
    error: str | None = None,
    status: int = 200,
    edit_errors: dict[str, str] | None = None,
    edit_values: dict[str, str] | None = None,
) -> web.Response:
    """One physician: who they are, their series, awards and requirements, their emails."""
    row = await organizer_session(request)
    lang = language(request)
    t = translator(lang)
    labels = request.app[MAIL].labels.of(lang)
    try:
        view = await physician_service.organiser_view(request.app[SERVICES], path_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None
    p = view.physician
    return page(
        request,
        "org_physician.html",
        status=status,
        error=error,
        credit_types=sorted(labels.items()),
        csrf=row.csrf,
        physician=p,
        language_shown=language_name(p.language, lang),
        name=f"{p.first_name} {p.last_name}",
        edit_errors=edit_errors or {},
        edit=edit_values
        or {k: "" if getattr(p, k) is None else str(getattr(p, k)) for k in PHYSICIAN_FIELDS},
        zones=timezone_names(),
        done=request.query.get("done", ""),
        series=view.registrations,
        awards=[
            {
                "series": a.series_title,
                "occurrence_id": a.occurrence_id,
                "when": when(a.start, p.timezone, lang),
                "minutes": number(a.minutes, lang),
                "final": a.final,
                "credits": credits_cell(a, t=t, labels=labels, lang=lang),
                "certificate": _certificate(view.certificates.get(a.occurrence_id), lang),
            }
            for a in view.summary.awards
        ],
        totals=[
            (labels.get(c, c), credit_amount(v, lang))
            for c, v in sorted(view.summary.totals.items())
        ],
        requirements=[
            {
                "id": r.id,
                "type": labels.get(r.type, r.type),
                "earned": credit_amount(r.earned, lang),
                "required": credit_amount(r.required, lang),
                "from": day(r.from_, lang),
                "to": day(r.to, lang),
            }
            for r in view.summary.requirements
        ],
        messages=[
            {
                "kind": m.kind,
                "subject": m.subject,
                "status": m.status,
                "at": when(m.created_at, p.timezone, lang),
                "error": m.last_error or "",
            }
            for m in view.messages
        ],
    )


def _certificate(certificate: IssuedCertificate | None, lang: str) -> dict[str, str | None] | None:
    """A session's latest certificate as the physician's page shows it (revoked: since when,
    why)."""
    if certificate is None:
        return None
    revoked, withdrawn = certificate.revoked_at, certificate.withdrawn_at
    return {
        "code": certificate.code,
        "revoked": long_date(revoked.date(), lang) if revoked else None,
        "reason": certificate.revoked_reason,
        "withdrawn": long_date(withdrawn.date(), lang) if withdrawn else None,
        "withdrawn_reason": certificate.withdrawn_reason or "no_credit",
    }


async def organizer_physician_action(request: web.Request) -> web.StreamResponse:
    """A new welcome email (a new personal link) or a one-time sign-in link, by email."""
    row = await organizer_session(request)
    form = await form_with_csrf(request, row)
    physician_id = path_id(request)
    action = form.get("action", "")
    t = translator(language(request))
    try:
        if action == "requirement":
            try:
                data = RequirementCreate.model_validate(
                    {
                        "type": form.get("type", ""),
                        "required": decimal_text(form.get("required", "")),
                        "from": form.get("from", ""),
                        "to": form.get("to", ""),
                    }
                )
            except ValidationError:
                return await organizer_physician(
                    request, error=t["org.requirement.bad"], status=422
                )
            try:
                await physician_service.add_requirement(request.app[SERVICES], physician_id, data)
            except InvalidInputError:
                return await organizer_physician(
                    request, error=t["org.requirement.bad"], status=422
                )
        elif action == "delete_requirement":
            await physician_service.delete_requirement(
                request.app[SERVICES], physician_id, _number(form.get("requirement_id", ""))
            )
        elif action == "unregister":
            await registration_service.unregister(
                request.app[SERVICES], _number(form.get("series_id", "")), physician_id
            )
        elif action == "edit":
            refused = await _edit(request, physician_id, form, t)
            if refused is not None:
                return refused
        elif action == "welcome":
            await physician_service.resend_welcome(request.app[SERVICES], physician_id)
        elif action == "sign_in_link":
            await physician_service.send_sign_in_link(request.app[SERVICES], physician_id)
        else:
            raise web.HTTPBadRequest(text="unknown action")
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/organizer/physicians/{physician_id}?done={action}")


async def organizer_import_page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    row = await organizer_session(request)
    return page(request, "org_import.html", status=status, csrf=row.csrf, error=error)


async def _read_upload(request: web.Request, limit: int) -> tuple[dict[str, str], bytes | None]:
    """The multipart form's text fields and its file (streamed, at most ``limit`` bytes: the
    app's 1 MB cap on forms is for forms, not for a 42,000-line CSV)."""
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPBadRequest(text="send the form as multipart/form-data")
    fields: dict[str, str] = {}
    content: bytes | None = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename:  # a file chosen, maybe empty (none chosen: no file name)
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
                content = bytes(data)
            else:
                value = await part.read(decode=True)
                if len(value) > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(value))
                fields[part.name] = value.decode("utf-8", "replace")
    except (ValueError, AssertionError) as exc:
        raise web.HTTPBadRequest(text=f"the form cannot be read: {exc}") from None
    return fields, content


def _text_of(content: bytes) -> str | None:
    """The file as text, as the CLI reads it (:func:`decoded`); None if it is not text."""
    try:
        return decoded(content)
    except UnicodeDecodeError:
        return None


async def organizer_import(request: web.Request) -> web.StreamResponse:
    """Import a physicians CSV from the page: the page shows the import running (a progress
    bar written as each chunk of 1,000 is committed, no JavaScript), then the CLI's report."""
    row = await organizer_session(request)
    t = translator(language(request))
    fields, content = await _read_upload(request, IMPORT_MAX_BYTES)
    if not csrf_ok(row, fields.get("csrf")):
        raise web.HTTPForbidden(
            text="the form is stale or forged (CSRF check failed); reload the page"
        )
    if content is None:
        return await organizer_import_page(request, error=t["org.import.nofile"], status=422)
    text = _text_of(content)
    if text is None:
        return await organizer_import_page(request, error=t["org.import.notutf8"], status=422)
    try:
        rows = list(physician_rows(text))
    except RowError as exc:
        return await organizer_import_page(request, error=_header_refused(exc, t), status=422)
    total = len(rows)
    done = [0]

    def progress(count: int) -> None:
        done[0] += count

    work = asyncio.ensure_future(
        imports.import_physicians(
            request.app[SERVICES],
            rows,
            progress=progress,
            send_welcome=fields.get("welcome") == "yes",
        )
    )
    head, tail = render_text(request, "org_import_running.html", total=total).split("<!--steps-->")
    response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await response.prepare(request)
    await response.write(head.encode())
    shown = -1
    while not work.done():
        await asyncio.wait({work}, timeout=PROGRESS_SECONDS)
        if done[0] != shown and not work.done():
            shown = done[0]
            step = render_text(request, "org_import_step.html", done=shown, total=total)
            await response.write(step.encode())
    report = work.result()
    result = render_text(
        request,
        "org_import_report.html",
        total=total,
        counts=report.counts,
        welcomes=report.welcomes,
        errors=[(e.line, _row_reason(e, t)) for e in report.errors[:SHOWN_ERRORS]],
        more_errors=max(len(report.errors) - SHOWN_ERRORS, 0),
        bad=len(report.errors),
    )
    await response.write((result + tail).encode())
    await response.write_eof()
    return response


def addresses_in(text: str, *, pasted: bool = False) -> tuple[list[str], list[str]]:
    """The addresses of a pasted list or a CSV (any column, any separator), normalised, and
    the pieces that look like addresses but are not. In a ``pasted`` list, also what is left
    once the addresses are out and was surely meant as one (an ``@`` without an address
    around it, or ``med03example.org``): nothing typed vanishes without a word; names next to
    the addresses (``Jeanne Durand <j.durand@example.org>``) are not reported."""
    good: list[str] = []
    bad: list[str] = []
    for found in _ADDRESS.findall(text):
        try:
            good.append(normalise_address(found))
        except ValueError:
            bad.append(found[:320])
    if pasted:
        rest = _PIECE.findall(_ADDRESS.sub(" ", text))
        bad += [piece[:320] for piece in rest if "@" in piece or _ADDRESS_LIKE.match(piece)]
    return good, bad


async def organizer_register_list(request: web.Request) -> web.StreamResponse:
    """Register to a series every physician of a pasted list of addresses or an uploaded CSV;
    the series page then says how many were added, already there, put on the waitlist (a full
    series: its capacity holds, unless the form sends ``over_capacity``), or unknown."""
    row = await organizer_session(request)
    series_id = path_id(request)
    lang = language(request)
    t = translator(lang)
    if request.content_type.startswith("multipart/"):
        fields, content = await _read_upload(request, LIST_MAX_BYTES)
    else:
        fields, content = await form_with_csrf(request, row), None
    if not csrf_ok(row, fields.get("csrf")):
        raise web.HTTPForbidden(
            text="the form is stale or forged (CSRF check failed); reload the page"
        )
    typed, typed_invalid = addresses_in(fields.get("emails", ""), pasted=True)
    listed, listed_invalid = addresses_in(_text_of(content) or "" if content else "")
    emails, invalid = typed + listed, typed_invalid + listed_invalid
    if not emails and not invalid:
        raise web.HTTPSeeOther(f"/organizer/series/{series_id}?bulk=empty#bulk")
    try:
        result = await registration_service.register_emails(
            request.app[SERVICES],
            series_id,
            emails,
            over_capacity=fields.get("over_capacity") in ("1", "on", "true"),
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    message = t["org.bulk.done"].format(
        added=plural(lang, "org.bulk.added", result.added),
        already=plural(lang, "org.bulk.already", result.already),
        unknown=plural(lang, "org.bulk.unknown", len(result.unknown)),
    )
    if result.waitlisted:
        message += " " + t["org.bulk.waitlisted"].format(waitlisted=result.waitlisted)
    for label, pieces in (("org.bulk.unknown", result.unknown), ("org.bulk.invalid", invalid)):
        if pieces:
            message += " " + t[label] + " " + ", ".join(pieces[:20])
            message += " …" if len(pieces) > 20 else ""
    return page(
        request,
        "org_done.html",
        csrf=row.csrf,
        heading=t["org.bulk.title"],
        text=message,
        back=f"/organizer/series/{series_id}#registrations",
    )


PHYSICIAN_FIELDS = ("first_name", "last_name", "email", "language", "timezone", "npi", "rpps")


def _row_reason(error: RowError, t: dict[str, str]) -> str:
    """Why a row was refused, in the page's language: what is wrong with the line, or the
    value at fault (the same words as the physician forms'); else the import's own sentence."""
    if error.field is None:
        return error.reason
    if isinstance(error, DuplicateRowError):
        return t["org.import.bad.duplicate"].format(first=error.first)
    if isinstance(error, IdentifierRowError):
        if error.first is not None:
            return t[f"org.import.bad.identifier.line.{error.field}"].format(first=error.first)
        return t[f"org.import.bad.identifier.held.{error.field}"].format(holder=error.holder)
    named = name_problem(error.field, error.kind or "", t)
    if named is not None:
        return named
    for key in (f"org.import.bad.{error.field}", f"org.physician.bad.{error.field}"):
        if key in t:
            return t[key]
    return error.reason


def _header_refused(error: RowError, t: dict[str, str]) -> str:
    """Why the file was refused as a whole (its header), in the page's language."""
    if isinstance(error, ColumnsError):
        if error.field == "empty":
            return t["org.import.empty"]
        reason = t["org.import.bad.columns"].format(missing=", ".join(error.missing))
        if error.unknown:
            reason += t["org.import.bad.unknown"].format(unknown=", ".join(error.unknown))
    else:
        reason = _row_reason(error, t)
    return t["org.import.header"].format(line=error.line, reason=reason)


def _refused(field: str, error_type: str, t: dict[str, str]) -> str:
    """Why a physician form's value was refused, next to its field: a name says what is wrong
    with it (too long, characters not accepted, no letter), other fields their own sentence."""
    return name_problem(field, error_type, t) or t.get(
        f"org.physician.bad.{field}", t["org.bad.other"]
    )


def _refusals(exc: ValidationError, t: dict[str, str]) -> dict[str, str]:
    """``{field: why}`` of a physician form the validation refused, the first reason of each
    field (:func:`_refused`)."""
    errors: dict[str, str] = {}
    for item in exc.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        errors.setdefault(field, _refused(field, item["type"], t))
    return errors


def _taken(error: IdentifierTakenError, t: dict[str, str]) -> str:
    """An NPI or RPPS number another physician holds, said next to its field: which physician
    (their number, as the organiser's lists show it), so that the organiser can put it right."""
    return t[f"org.physician.taken.{error.field}"].format(holder=error.holder)


async def _edit(
    request: web.Request, physician_id: int, form: dict[str, str], t: dict[str, str]
) -> web.Response | None:
    """The physician's details as the form gives them (an empty NPI or RPPS clears it); the
    page again with each refused value said next to its field (422), else ``None``."""
    values = {k: form.get(k, "").strip() for k in PHYSICIAN_FIELDS}
    body = {k: (v or None) if k in ("npi", "rpps") else v for k, v in values.items()}
    try:
        data = PhysicianUpdate.model_validate(body)
        await physician_service.update_physician(request.app[SERVICES], physician_id, data)
    except ValidationError as exc:
        errors = _refusals(exc, t)
    except IdentifierTakenError as exc:
        errors = {exc.field: _taken(exc, t)}
    except InvalidInputError as exc:
        errors = {exc.field: t.get(f"org.physician.bad.{exc.field}", t["org.bad.other"])}
    else:
        return None
    return await organizer_physician(request, status=422, edit_errors=errors, edit_values=values)


async def organizer_create_physician(request: web.Request) -> web.StreamResponse:
    """Add one physician from the physicians page (a welcome email unless unticked); a refused
    value is said next to its field, in the page's language."""
    row = await organizer_session(request)
    form = await form_with_csrf(request, row)
    t = translator(language(request))
    values = {k: form.get(k, "").strip() for k in PHYSICIAN_FIELDS}
    body = {k: v for k, v in values.items() if v or k in ("first_name", "last_name", "email")}
    try:
        data = PhysicianCreate.model_validate(body)
        physician, _ = await physician_service.create_physician(
            request.app[SERVICES], data, send_welcome=form.get("welcome") == "yes"
        )
    except ValidationError as exc:
        return await organizer_physicians_page(request, errors=_refusals(exc, t), values=values)
    except IdentifierTakenError as exc:
        return await organizer_physicians_page(
            request, errors={exc.field: _taken(exc, t)}, values=values
        )
    except InvalidInputError as exc:
        errors = {exc.field: t.get(f"org.physician.bad.{exc.field}", t["org.bad.other"])}
        return await organizer_physicians_page(request, errors=errors, values=values)
    raise web.HTTPSeeOther(f"/organizer/physicians/{physician.id}")


async def organizer_physicians_page(
    request: web.Request, *, errors: dict[str, str], values: dict[str, str]
) -> web.Response:
    """The physicians list again, with the new physician's form refused (422)."""
    return await organizer_physicians(request, new_errors=errors, new_values=values)
