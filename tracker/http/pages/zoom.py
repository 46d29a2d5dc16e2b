"""The organiser's Zoom block of an occurrence (SPEC 8): its facts counted by source, the
readings of Zoom's participant report with the reason of a failed one, and a button to read it
again. Its own page, linked from the attendance page by one line."""

from __future__ import annotations

from aiohttp import web

from schedules.errors import NotFoundError
from tracker.domain.localtime import when
from tracker.errors import ZoomNotConfiguredError
from tracker.http.background import BACKGROUND
from tracker.http.keys import SERVICES, ZOOM
from tracker.http.pages import sessions
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import form_with_csrf, page
from tracker.http.parsing import path_id
from tracker.services import zoom as zoom_service


async def _signed_in(request: web.Request) -> str:
    row = await sessions.current(request, kind="organizer")
    if row is None:
        raise web.HTTPSeeOther("/organizer/login")
    return row.csrf


def _round(name: str, t: dict[str, str]) -> str:
    return (
        t["zoom.round.manual"] if name.startswith("manual:") else t.get(f"zoom.round.{name}", name)
    )


async def organizer_occurrence_zoom(request: web.Request) -> web.Response:
    csrf = await _signed_in(request)
    occurrence_id = path_id(request)
    lang = language(request)
    t = translator(lang)
    try:
        found = await zoom_service.occurrence_zoom(request.app[SERVICES], occurrence_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    series, view = found.series, found.view
    latest = view.latest
    return page(
        request,
        "org_zoom.html",
        title=series.title,
        when=when(found.occurrence.start, series.timezone, lang),
        occurrence_id=occurrence_id,
        csrf=csrf,
        enabled=ZOOM in request.app,
        webinar=bool(series.zoom_webinar_id),
        asked=request.query.get("asked") == "1",
        sources=[(t.get(f"zoom.source.{s}", s), n) for s, n in view.sources.items()],
        failed=latest.reason if latest is not None and latest.status == "failed" else None,
        runs=[
            {
                "round": _round(r.round, t),
                "due": when(r.due_at, series.timezone, lang),
                "status": t.get(f"zoom.status.{r.status}", r.status),
                "rows": r.rows,
                "added": r.added,
                "reason": r.reason or "",
            }
            for r in view.runs
        ],
    )


async def organizer_reconcile(request: web.Request) -> web.StreamResponse:
    """Ask for a reading of Zoom's report now; it runs behind the answer (a crash leaves the
    run due: any process's scheduler takes it up)."""
    row = await sessions.current(request, kind="organizer")
    if row is None:
        raise web.HTTPSeeOther("/organizer/login")
    await form_with_csrf(request, row)
    occurrence_id = path_id(request)
    services = request.app[SERVICES]
    try:
        run_id = await zoom_service.ask(services, occurrence_id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    except ZoomNotConfiguredError:
        raise web.HTTPSeeOther(f"/organizer/occurrences/{occurrence_id}/zoom") from None
    request.app[BACKGROUND].spawn(
        zoom_service.run_due(services, request.app[ZOOM], run_id=run_id),
        name=f"zoom-reconcile-{occurrence_id}",
    )
    raise web.HTTPSeeOther(f"/organizer/occurrences/{occurrence_id}/zoom?asked=1")
