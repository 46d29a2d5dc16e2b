"""The organiser revokes a certificate from the console: a button on the physician's page
leads to a confirmation that may say why, then the certificate is revoked as through the API
(its public check says so, its credential's status bit is set). Thin handlers."""

from __future__ import annotations

from aiohttp import web

from tracker.domain.localtime import long_date, when
from tracker.http.keys import SERVICES
from tracker.http.pages.i18n import language
from tracker.http.pages.organiser import organizer_session
from tracker.http.pages.render import form_with_csrf, page
from tracker.services import credentials as credential_service


def _code(request: web.Request) -> str:
    return request.match_info["code"].strip().upper()


async def organizer_revoke_page(request: web.Request) -> web.Response:
    """The question before a revocation: which certificate (whose, which session), a field for
    the reason, one button. A certificate already revoked says when, and offers nothing."""
    row = await organizer_session(request)
    lang = language(request)
    found = await credential_service.certificate_to_revoke(request.app[SERVICES], _code(request))
    if found is None:
        raise web.HTTPNotFound()
    certificate, check, timezone = found
    return page(
        request,
        "org_certificate_revoke.html",
        csrf=row.csrf,
        code=certificate.code,
        physician_id=certificate.physician_id,
        occurrence_id=certificate.occurrence_id,
        physician=check.physician,
        series=check.series_title,
        when=when(check.session_start, timezone, lang),
        revoked=long_date(check.revoked_at.date(), lang) if check.revoked_at else None,
        reason=certificate.revoked_reason or "",
    )


async def organizer_revoke(request: web.Request) -> web.StreamResponse:
    """Revoke the certificate (idempotent), with the reason given if any, then back to the
    physician's page, which shows it revoked."""
    row = await organizer_session(request)
    form = await form_with_csrf(request, row)
    found = await credential_service.certificate_to_revoke(request.app[SERVICES], _code(request))
    if found is None:
        raise web.HTTPNotFound()
    certificate = found[0]
    await credential_service.revoke_certificate(
        request.app[SERVICES], certificate.code, form.get("reason")
    )
    raise web.HTTPSeeOther(
        f"/organizer/physicians/{certificate.physician_id}?done=revoke"
        f"#certificate-{certificate.code}"
    )
