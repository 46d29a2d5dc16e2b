"""The outbox for organisers, one-click unsubscribe, certificates and their verification."""

from __future__ import annotations

from html import escape

from aiohttp import web
from sqlmodel import col, select

from notifications.models import OutboxMessage
from notifications.outbox import list_messages, retry_failed
from schedules.clock import utcnow
from schedules.models import Occurrence, Series
from tracker.bounds import parse_id
from tracker.http import json_response, path_id
from tracker.keys import DATABASE, MAIL, WORKER, physician_of
from tracker.mailings import latest_certificate_pdf, pdf_response
from tracker.models import Certificate, Physician, Registration
from tracker.problems import HTTPProblem
from tracker.schemas import CertificateCheck, OutboxMessagePublic

STATUSES = ("pending", "sending", "sent", "failed", "skipped")


def _outbox_public(row: OutboxMessage) -> OutboxMessagePublic:
    return OutboxMessagePublic.model_validate(row, from_attributes=True)


async def list_outbox(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise HTTPProblem(400, f"status must be one of {', '.join(STATUSES)}")
    async with request.app[DATABASE].session() as session:
        rows = await list_messages(session, status=status)
    return json_response([_outbox_public(row) for row in rows])


async def retry_message(request: web.Request) -> web.Response:
    async with request.app[DATABASE].session() as session:
        row = await retry_failed(session, path_id(request), now=utcnow())
    if row is None:
        raise HTTPProblem(404, f"no outbox message {request.match_info['id']}")
    request.app[WORKER].poke()
    return json_response(_outbox_public(row))


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    html = (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f'<title>{escape(title)}</title></head><body style="font-family:sans-serif;max-width:36rem;margin:2rem auto">'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(
        text=html,
        content_type="text/html",
        status=status,
        headers={"Referrer-Policy": "no-referrer"},
    )


async def _registration(request: web.Request) -> tuple[Registration, Series] | None:
    token = request.match_info["token"]
    async with request.app[DATABASE].session() as session:
        row = (
            await session.exec(
                select(Registration, Series)
                .join(Series, col(Series.id) == col(Registration.series_id))
                .where(Registration.unsubscribe_token == token)
            )
        ).first()
    return (row[0], row[1]) if row else None


async def unsubscribe_page(request: web.Request) -> web.Response:
    found = await _registration(request)
    if found is None:
        return _page(
            "Unknown link", "<p>This unsubscribe link is not valid (any more).</p>", status=404
        )
    _, series = found
    return _page(
        "Stop reminders",
        f"<p>Stop reminder emails for <strong>{escape(series.title)}</strong>?</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>',
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click: a POST (``List-Unsubscribe=One-Click``) turns reminders off."""
    found = await _registration(request)
    if found is None:
        return _page(
            "Unknown link", "<p>This unsubscribe link is not valid (any more).</p>", status=404
        )
    registration, series = found
    async with request.app[DATABASE].session() as session:
        row = await session.get_one(Registration, registration.id)
        row.reminders = False
        await session.commit()
    return _page(
        "Unsubscribed",
        f"<p>You will no longer receive reminders for <strong>{escape(series.title)}</strong>.</p>",
    )


async def verify_certificate(request: web.Request) -> web.Response:
    """Anyone holding a certificate can check it here; a superseded one says so."""
    code = request.match_info["code"].upper()
    async with request.app[DATABASE].session() as session:
        certificate = (
            await session.exec(select(Certificate).where(Certificate.code == code))
        ).first()
        if certificate is None:
            raise HTTPProblem(404, f"no certificate with code {code}")
        physician = await session.get_one(Physician, certificate.physician_id)
        occurrence = await session.get_one(Occurrence, certificate.occurrence_id)
        series = await session.get_one(Series, occurrence.series_id)
        newer = (
            await session.exec(
                select(Certificate.code).where(
                    Certificate.occurrence_id == certificate.occurrence_id,
                    Certificate.physician_id == certificate.physician_id,
                    Certificate.version > certificate.version,
                )
            )
        ).first()
    check = CertificateCheck(
        code=certificate.code,
        valid=newer is None,
        superseded_by=newer,
        physician=f"{physician.first_name} {physician.last_name}",
        series_title=series.title,
        session_start=occurrence.start,
        minutes=certificate.minutes,
        credits=certificate.credits,
        issued_at=certificate.issued_at,
    )
    return json_response(check)


async def my_certificate(request: web.Request) -> web.Response:
    """The latest certificate of this physician for that occurrence, as PDF."""
    raw = request.match_info["occurrence_id"]
    occurrence_id = parse_id(raw)
    async with request.app[DATABASE].session() as session:
        found = (
            await latest_certificate_pdf(
                session, request.app[MAIL], physician_of(request), occurrence_id
            )
            if occurrence_id is not None
            else None
        )
    if found is None:
        raise HTTPProblem(404, f"you have no certificate for occurrence {raw}")
    return pdf_response(*found, disposition="inline")
