"""The organiser's exports from the pages (issue 12): one session's attendance as CSV, and the
completions export for a date range (the API's export, behind the page session). Thin
handlers: parse, call one service, write."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from schedules.errors import NotFoundError
from tracker.domain.exports import render_header, render_rows
from tracker.domain.listing import Attendee
from tracker.http.api import attendance as attendance_api
from tracker.http.keys import MAIL, SERVICES
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.organiser import organizer_session
from tracker.http.pages.render import page
from tracker.http.parsing import path_id
from tracker.services import attendance as attendance_service

HEADER = [
    "last_name",
    "first_name",
    "email",
    "npi",
    "rpps",
    "minutes",
    "status",
]


async def organizer_attendance_csv(request: web.Request) -> web.StreamResponse:
    """Every attendee of a session as CSV (UTF-8 with a BOM, cells safe from spreadsheet
    formulas), a column per credit type, streamed batch by batch."""
    await organizer_session(request)
    occurrence_id = path_id(request)
    # CSV columns are credit codes, in no reader's language
    codes = request.app[MAIL].labels.fallback
    batches = attendance_service.attendance_rows(request.app[SERVICES], occurrence_id)
    try:
        first = await anext(batches)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    credit_types = sorted(codes)
    response = web.StreamResponse(
        headers={
            "Content-Disposition": f'attachment; filename="attendance-{occurrence_id}.csv"',
            "Cache-Control": "no-store",
        }
    )
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)

    def lines(rows: list[Attendee]) -> str:
        return render_rows(
            [
                [
                    physician.last_name,
                    physician.first_name,
                    physician.email,
                    physician.npi or "",
                    physician.rpps or "",
                    f"{award.seconds / 60:.2f}",
                    "revoked" if revoked else "final" if award.final else "provisional",
                    *[f"{award.credits.get(c, 0):g}" for c in credit_types],
                ]
                for award, physician, revoked in rows
            ],
            "csv",
        )

    await response.write((render_header(HEADER + credit_types, "csv") + lines(first)).encode())
    async for rows in batches:
        await response.write(lines(rows).encode())
    await response.write_eof()
    return response


def _dates(request: web.Request) -> tuple[str, str, str | None]:
    """The ``from`` and ``to`` dates asked (YYYY-MM-DD), and the error to show if one is not."""
    start, end = request.query.get("from", "")[:10], request.query.get("to", "")[:10]
    try:
        for value in (start, end):
            if value:
                date.fromisoformat(value)
    except ValueError:
        return start, end, translator(language(request))["org.bad.date"]
    return start, end, None


async def organizer_exports(request: web.Request) -> web.Response:
    """The exports page: the completions export for a date range, as CSV or PARS text."""
    row = await organizer_session(request)
    start, end, error = _dates(request)
    return page(request, "org_exports.html", csrf=row.csrf, start=start, end=end, error=error)


async def organizer_export_completions_csv(request: web.Request) -> web.StreamResponse:
    return await _export_completions(request)


async def organizer_export_completions_txt(request: web.Request) -> web.StreamResponse:
    return await _export_completions(request)


async def _export_completions(request: web.Request) -> web.StreamResponse:
    """The API's completions export (the same rows and streaming) for the page's dates, from
    ``from`` to ``to`` included, each session by its own date (where it is held)."""
    await organizer_session(request)
    start, end, error = _dates(request)
    if error:
        return page(request, "org_exports.html", status=400, start=start, end=end, error=error)
    query = {"lang": request.query.get("lang", "")} if request.query.get("lang") else {}
    if start:
        query["from"] = start  # days: each session by its own date where it is held
    if end:
        query["to"] = end
    asked = request.clone(rel_url=request.rel_url.with_query(query))
    if request.path.endswith(".txt"):
        return await attendance_api.export_completions_tab(asked)
    return await attendance_api.export_completions(asked)
