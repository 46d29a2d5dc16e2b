"""The physician's pages: sign-in by link, the next sessions (Join, add to calendar), the
personal feed, credits, certificates, preferences. Thin handlers: parse, call one service,
render."""

from __future__ import annotations

from aiohttp import web

from schedules.clock import utcnow
from schedules.designation import designation_statement
from schedules.wording import number
from tracker.domain import agenda
from tracker.domain.agenda import NoCredit
from tracker.domain.bounds import parse_id
from tracker.domain.localtime import long_date, when_zoned
from tracker.domain.models import Physician, WebSession
from tracker.http.api.credentials import credential_response
from tracker.http.api.feeds import occurrence_file_response
from tracker.http.keys import DATABASE, MAIL, SERVICES, SETTINGS
from tracker.http.pages import sessions
from tracker.http.pages.award_cells import credits_cell
from tracker.http.pages.calendar_links import session_item, subscribe_links, webcal
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import form_with_csrf, message_page, page, secure_cookies
from tracker.http.parsing import pdf_response, read_form
from tracker.services import certificates as certificate_service
from tracker.services import credentials as credential_service
from tracker.services import feeds, web_sessions
from tracker.services import physicians as physician_service
from tracker.services import registrations as registration_service


async def physician_sign_in(request: web.Request) -> web.StreamResponse:
    """The personal link of every email: the token signs in once, then the URL is left behind."""
    raw = await web_sessions.sign_in_physician(request.app[DATABASE], request.match_info["token"])
    if raw is None:
        t = translator(language(request))
        return message_page(request, t["error"], t["signin.bad"], status=404, sign_in_form=True)
    response = web.HTTPSeeOther(
        "/me", headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    )
    sessions.set_cookie(response, raw, secure=secure_cookies(request))
    raise response


async def _physician_session(request: web.Request) -> tuple[WebSession, Physician]:
    found = await web_sessions.physician_session(request.app[DATABASE], sessions.cookie_of(request))
    if found is None:
        raise web.HTTPUnauthorized()  # answered as a localised page (tracker.http.pages.errors)
    return found


def _note(t: dict[str, str], note: NoCredit | None, lang: str) -> str:
    if note is None:
        return ""
    return t[f"note.{note.reason}"].format(
        minutes=number(note.minutes, lang),
        needed=number(note.needed_minutes, lang),
        percent=number(note.percent, lang),
    )


async def me(request: web.Request) -> web.Response:
    row, physician = await _physician_session(request)
    lang = language(request, physician.language)
    t = translator(lang)
    mail, settings = request.app[MAIL], request.app[SETTINGS]
    labels = mail.labels.of(lang)
    now = utcnow()
    view = await physician_service.physician_page(request.app[SERVICES], physician, now=now)
    feed_key, summary, certified = view.feed_key, view.summary, view.certified
    withdrawn = view.withdrawn
    registrations, upcoming, attended = view.registrations, view.upcoming, view.attended
    waitlist = view.waitlist
    feed_name = f"{t['feed']} – {settings.provider_name}"
    return page(
        request,
        "me.html",
        lang=lang,
        physician=physician,
        csrf=row.csrf,
        saved=request.query.get("saved") == "1",
        upcoming=[
            session_item(
                occurrence,
                series,
                timezone=physician.timezone,
                lang=lang,
                now=now,
                ics=f"/me/occurrences/{occurrence.id}.ics",
                statement=designation_statement(
                    series.credits, provider=mail.provider, labels=labels, language=lang
                ),
            )
            for occurrence, series in upcoming
        ],
        feed=subscribe_links(f"{settings.base_url}/feeds/{feed_key}.ics", name=feed_name),
        totals=[
            (labels.get(code, code), number(value, lang))
            for code, value in sorted(summary.totals.items())
        ],
        requirements=[
            {
                "id": r.id,
                "label": labels.get(r.type, r.type),
                "from": long_date(r.from_, lang),
                "to": long_date(r.to, lang),
                "earned": number(r.earned, lang),
                "earned_value": min(r.earned, r.required),
                "required": number(r.required, lang),
                "required_value": r.required,
            }
            for r in summary.requirements
        ],
        awards=[
            {
                "occurrence_id": a.occurrence_id,
                "when": when_zoned(a.start, physician.timezone, lang),
                "title": a.series_title,
                "minutes": number(a.minutes, lang),
                "final": a.final,
                # a revoked certificate is not offered (its PDF and credential answer 410)
                # and neither is a withdrawn one (the corrected award earns no credit)
                "certificate": a.occurrence_id in certified
                and a.revoked_at is None
                and a.occurrence_id not in withdrawn,
                "revoked": long_date(a.revoked_at.date(), lang) if a.revoked_at else None,
                "withdrawn": long_date(withdrawn[a.occurrence_id][0].date(), lang)
                if a.occurrence_id in withdrawn and a.revoked_at is None
                else None,
                "credits": credits_cell(a, t=t, labels=labels, lang=lang, amount=number),
                "note": t["me.cert.revoked.note"]
                if a.revoked_at is not None
                else t[f"me.cert.withdrawn.{withdrawn[a.occurrence_id][1]}"]
                if a.occurrence_id in withdrawn
                else t[f"claim.note.{a.claim}"]
                if a.claim in ("open", "closed")
                else _note(
                    t,
                    agenda.why_no_credit(
                        seconds=a.minutes * 60,
                        credits=a.credits,
                        start=a.start,
                        end=a.end,
                        rules=attended[a.occurrence_id],
                        now=now,
                        cancelled=a.cancelled,
                    )
                    if a.occurrence_id in attended
                    else None,
                    lang,
                ),
            }
            for a in sorted(summary.awards, key=lambda a: a.start, reverse=True)
        ],
        registrations=[
            {"series_id": s.id, "title": s.title, "reminders": r.reminders}
            for r, s in registrations
        ],
        waitlisted=[  # self-registration
            {"series_id": s.id, "title": s.title, "position": place} for _, s, place in waitlist
        ],
    )


async def me_occurrence_file(request: web.Request) -> web.Response:
    """One session of a series the physician is registered to, as a ``.ics`` file."""
    _, physician = await _physician_session(request)
    occurrence_id = parse_id(request.match_info["occurrence_id"])
    found = (
        await feeds.registered_occurrence(request.app[SERVICES], physician.id or 0, occurrence_id)
        if occurrence_id is not None
        else None
    )
    if found is None:
        raise web.HTTPNotFound()
    return occurrence_file_response(request, *found, private=True)


async def me_certificate(request: web.Request) -> web.Response:
    _, physician = await _physician_session(request)
    occurrence_id = parse_id(request.match_info["occurrence_id"])
    found = (
        await certificate_service.certificate_pdf(request.app[SERVICES], physician, occurrence_id)
        if occurrence_id is not None
        else None
    )
    if found is None:
        raise web.HTTPNotFound()
    return pdf_response(*found, disposition="attachment")


async def me_credential(request: web.Request) -> web.Response:
    """The certificate as a signed Open Badges credential (issue 11), to keep in a wallet."""
    _, physician = await _physician_session(request)
    occurrence_id = parse_id(request.match_info["occurrence_id"])
    token = (
        await credential_service.my_credential(request.app[SERVICES], physician, occurrence_id)
        if occurrence_id is not None
        else None
    )
    if token is None:
        raise web.HTTPNotFound()
    return credential_response(token, occurrence_id or 0)


async def me_preferences(request: web.Request) -> web.StreamResponse:
    row, physician = await _physician_session(request)
    form = await read_form(request)
    if not sessions.csrf_ok(row, str(form.get("csrf", ""))):
        raise web.HTTPForbidden(text="CSRF check failed; reload the page")
    chosen = (parse_id(v) for v in form.getall("series", []))
    wanted = {series_id for series_id in chosen if series_id is not None}
    await registration_service.choose_reminders(request.app[SERVICES], physician.id or 0, wanted)
    raise web.HTTPSeeOther("/me?saved=1")  # the page then confirms the change


async def me_token(request: web.Request) -> web.Response:
    """A new personal token: every browser signed in with the old one is signed out, except
    this one, which gets a fresh session bound to the new token."""
    row, physician = await _physician_session(request)
    await form_with_csrf(request, row)
    base = request.app[SETTINGS].base_url
    token, feed_key, raw = await web_sessions.rotate_token_here(
        request.app[DATABASE], physician.id or 0, sessions.cookie_of(request)
    )
    feed = f"{base}/feeds/{feed_key}.ics"
    response = page(
        request,
        "token.html",
        lang=language(request, physician.language),
        page_url=f"{base}/me/{token}",
        feed_url=feed,
        webcal_url=webcal(feed),
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
