"""The physician's pages: sign-in by link, credits, certificates, preferences. Thin handlers: parse, call one service, render."""

from __future__ import annotations

from aiohttp import web
from sqlmodel import col, select

from schedules.clock import utcnow
from schedules.models import Series
from tracker.domain import awards
from tracker.domain.bounds import parse_id
from tracker.domain.localtime import amount, when
from tracker.domain.mailings import latest_certificate_pdf
from tracker.domain.models import Certificate, Physician, Registration, WebSession
from tracker.http.keys import DATABASE, MAIL, SERVICES, SETTINGS
from tracker.http.pages import sessions
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import form_with_csrf, page, secure_cookies
from tracker.http.parsing import pdf_response, read_form
from tracker.services import ingestion, web_sessions
from tracker.services import registrations as registration_service


async def physician_sign_in(request: web.Request) -> web.StreamResponse:
    """The personal link of every email: the token signs in once, then the URL is left behind."""
    raw = await web_sessions.sign_in_physician(request.app[DATABASE], request.match_info["token"])
    if raw is None:
        t = translator(language(request))
        return page(
            request,
            "message.html",
            status=404,
            heading=t["error"],
            text=t["signin.bad"],
            error=True,
            sign_in_form=True,
        )
    response = web.HTTPSeeOther(
        "/me", headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    )
    sessions.set_cookie(response, raw, secure=secure_cookies(request))
    raise response


async def _physician_session(request: web.Request) -> tuple[WebSession, Physician]:
    async with request.app[DATABASE].session() as session:
        row = await sessions.current(session, request, kind="physician", now=utcnow())
        physician = await session.get(Physician, row.subject_id) if row else None
    if row is None or physician is None:
        raise web.HTTPUnauthorized()  # answered as a localised page (tracker.http.pages.errors)
    return row, physician


async def me(request: web.Request) -> web.Response:
    row, physician = await _physician_session(request)
    lang = language(request, physician.language)
    labels = request.app[MAIL].labels
    await ingestion.settle(request.app[SERVICES], physician_id=physician.id or 0)
    async with request.app[DATABASE].session() as session:
        summary = await awards.credit_summary(session, physician.id or 0, now=utcnow())
        certified = set(
            (
                await session.exec(
                    select(Certificate.occurrence_id).where(
                        Certificate.physician_id == physician.id
                    )
                )
            ).all()
        )
        registrations = (
            await session.exec(
                select(Registration, Series)
                .join(Series, col(Series.id) == col(Registration.series_id))
                .where(Registration.physician_id == physician.id)
                .order_by(col(Series.title))
            )
        ).all()
    return page(
        request,
        "me.html",
        lang=lang,
        physician=physician,
        csrf=row.csrf,
        totals=[
            (labels.get(code, code), amount(value))
            for code, value in sorted(summary.totals.items())
        ],
        requirements=[
            {
                "id": r.id,
                "label": labels.get(r.type, r.type),
                "from": r.from_,
                "to": r.to,
                "earned": amount(r.earned),
                "earned_value": min(r.earned, r.required),
                "required": amount(r.required),
            }
            for r in summary.requirements
        ],
        awards=[
            {
                "occurrence_id": a.occurrence_id,
                "when": when(a.start, physician.timezone, lang),
                "title": a.series_title,
                "minutes": amount(a.minutes),
                "final": a.final,
                "certificate": a.occurrence_id in certified,
                "credits": ", ".join(
                    f"{labels.get(c, c)} {amount(v)}" for c, v in sorted(a.credits.items())
                ),
            }
            for a in summary.awards
        ],
        registrations=[
            {"series_id": s.id, "title": s.title, "reminders": r.reminders}
            for r, s in registrations
        ],
    )


async def me_certificate(request: web.Request) -> web.Response:
    _, physician = await _physician_session(request)
    occurrence_id = parse_id(request.match_info["occurrence_id"])
    async with request.app[DATABASE].session() as session:
        found = (
            await latest_certificate_pdf(session, request.app[MAIL], physician, occurrence_id)
            if occurrence_id is not None
            else None
        )
    if found is None:
        raise web.HTTPNotFound()
    return pdf_response(*found, disposition="attachment")


async def me_preferences(request: web.Request) -> web.StreamResponse:
    row, physician = await _physician_session(request)
    form = await read_form(request)
    if not sessions.csrf_ok(row, str(form.get("csrf", ""))):
        raise web.HTTPForbidden(text="CSRF check failed; reload the page")
    chosen = (parse_id(v) for v in form.getall("series", []))
    wanted = {series_id for series_id in chosen if series_id is not None}
    await registration_service.choose_reminders(request.app[SERVICES], physician.id or 0, wanted)
    raise web.HTTPSeeOther("/me")


async def me_token(request: web.Request) -> web.Response:
    """A new personal token: every browser signed in with the old one is signed out, except
    this one, which gets a fresh session bound to the new token."""
    row, physician = await _physician_session(request)
    await form_with_csrf(request, row)
    base = request.app[SETTINGS].base_url
    token, raw = await web_sessions.rotate_token_here(
        request.app[DATABASE], physician.id or 0, sessions.cookie_of(request)
    )
    feed = f"{base}/feeds/{token}.ics"
    response = page(
        request,
        "token.html",
        lang=language(request, physician.language),
        page_url=f"{base}/me/{token}",
        feed_url=feed,
        webcal_url="webcal://" + feed.split("://", 1)[1],
    )
    sessions.set_cookie(response, raw, secure=secure_cookies(request))
    return response


async def me_sign_out(request: web.Request) -> web.StreamResponse:
    row, _ = await _physician_session(request)
    await form_with_csrf(request, row)
    response = web.HTTPSeeOther("/signed-out")
    raw = sessions.cookie_of(request)
    if raw:
        await web_sessions.sign_out(request.app[DATABASE], raw)
    sessions.forget_cookie(response)
    raise response
