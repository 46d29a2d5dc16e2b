"""The outbox for organisers, one-click unsubscribe, certificates and their verification."""

from __future__ import annotations

from aiohttp import web

from notifications.models import OutboxMessage
from schedules.wording import credit_amount, number
from tracker.domain.bounds import parse_id
from tracker.domain.localtime import long_date, when_named
from tracker.domain.schemas import CertificateCheck, OutboxMessagePublic
from tracker.http.keys import MAIL, SERVICES, physician_of
from tracker.http.pages.errors import prefers_json
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import message_page, page
from tracker.http.paging import OUTBOX, OutboxPage, list_page, page_request, query_text
from tracker.http.parsing import json_response, path_id, pdf_response
from tracker.http.problems import HTTPProblem
from tracker.services import certificates as certificate_service
from tracker.services import lists
from tracker.services import outbox as outbox_service
from tracker.services import registrations as registration_service

STATUSES = ("pending", "sending", "sent", "failed", "skipped")


def _outbox_public(row: OutboxMessage) -> OutboxMessagePublic:
    return OutboxMessagePublic.model_validate(row, from_attributes=True)


async def list_outbox(request: web.Request) -> web.Response:
    """Messages, newest first, a page at a time; ``?status=`` and ``?kind=`` filter."""
    asked = page_request(request, OUTBOX, (int,))
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise HTTPProblem(400, f"status must be one of {', '.join(STATUSES)}")
    kind = query_text(request, "kind")
    view = await lists.outbox_page(request.app[SERVICES], asked, status=status, kind=kind)
    page = view.page
    items = [_outbox_public(row) for row in page.rows]
    return json_response(list_page(OutboxPage, OUTBOX, page, items))


async def retry_message(request: web.Request) -> web.Response:
    row = await outbox_service.retry_message(request.app[SERVICES], path_id(request))
    if row is None:
        raise HTTPProblem(404, f"no outbox message {request.match_info['id']}")
    return json_response(_outbox_public(row))


def _unknown_link(request: web.Request) -> web.Response:
    t = translator(language(request))
    return message_page(
        request, t["unsubscribe.unknown.title"], t["unsubscribe.unknown"], status=404
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    """The link in every reminder: a confirm page, in the physician's language."""
    found = await registration_service.unsubscribe_link(
        request.app[SERVICES], request.match_info["token"]
    )
    if found is None:
        return _unknown_link(request)
    _, series, physician = found
    return page(
        request,
        "unsubscribe.html",
        lang=language(request, physician.language),
        series_title=series.title,
        done=False,
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click: a POST (``List-Unsubscribe=One-Click``) turns reminders off."""
    found = await registration_service.unsubscribe_link(
        request.app[SERVICES], request.match_info["token"]
    )
    if found is None:
        return _unknown_link(request)
    registration, series, physician = found
    await registration_service.stop_reminders(request.app[SERVICES], registration.id or 0)
    return page(
        request,
        "unsubscribe.html",
        lang=language(request, physician.language),
        series_title=series.title,
        done=True,
    )


async def verify_certificate(request: web.Request) -> web.Response:
    """Anyone holding a certificate can check it here; a superseded one says so.

    The URL is printed on certificates, so whoever opens it gets a page (a browser, a QR
    scanner's view sending ``*/*``, no ``Accept`` at all); a client asking for JSON above HTML
    (``Accept: application/json``) gets the JSON check.
    """
    code = request.match_info["code"].strip().upper()
    browser = not prefers_json(request.headers.get("Accept", ""))
    found = await certificate_service.check_certificate(request.app[SERVICES], code)
    if found is None:
        if browser:
            return _certificate_page(request, None, status=404)
        raise HTTPProblem(404, f"no certificate with code {code}")
    check, timezone = found
    if browser:
        return _certificate_page(request, check, timezone=timezone)
    response = json_response(check)
    response.headers["Vary"] = "Accept"
    return response


def _certificate_page(
    request: web.Request,
    check: CertificateCheck | None,
    *,
    status: int = 200,
    timezone: str = "UTC",
) -> web.Response:
    lang = language(request)
    labels = request.app[MAIL].labels.of(lang)
    t = translator(lang)
    status_text = ""
    if check is not None:
        status_text = t[
            "cert.revoked.short" if check.status == "revoked" else f"cert.status.{check.status}"
        ]
    response = page(
        request,
        "certificate.html",
        status=status,
        check=check,
        status_text=status_text,
        revoked_text=long_date(check.revoked_at.date(), lang) if check and check.revoked_at else "",
        withdrawn_text=long_date(check.withdrawn_at.date(), lang)
        if check and check.withdrawn_at
        else "",
        replacement_revoked_text=long_date(check.superseded_by_revoked_at.date(), lang)
        if check and check.superseded_by_revoked_at
        else "",
        session_text=when_named(check.session_start, timezone, lang) if check else "",
        issued_text=long_date(check.issued_at.date(), lang) if check else "",
        minutes=number(check.minutes, lang) if check else "",
        credits=[
            (labels.get(code, code), credit_amount(value, lang))
            for code, value in sorted(check.credits.items())
        ]
        if check
        else [],
    )
    response.headers["Vary"] = "Accept"
    return response


async def my_certificate(request: web.Request) -> web.Response:
    """The latest certificate of this physician for that occurrence, as PDF."""
    raw = request.match_info["occurrence_id"]
    occurrence_id = parse_id(raw)
    found = (
        await certificate_service.certificate_pdf(
            request.app[SERVICES], physician_of(request), occurrence_id
        )
        if occurrence_id is not None
        else None
    )
    if found is None:
        raise HTTPProblem(404, f"you have no certificate for occurrence {raw}")
    return pdf_response(*found, disposition="inline")
