"""The credit receipt pages (SPEC 7, issue 11 point 7): how one award was computed, for the
physician (``/me/receipts/{occurrence_id}``) and for organisers
(``/organizer/occurrences/{id}/receipts/{physician_id}``), one template for both.

Times are shown in the series' timezone (the session's own clock, the one its organiser and
its emails use), minutes with the reader's decimal sign.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from schedules.models import OccurrenceStatus
from schedules.wording import credit_amount, number
from tracker.domain.localtime import long_date, when, zone_name
from tracker.domain.receipts import source_kinds
from tracker.http.keys import DATABASE, MAIL, SERVICES
from tracker.http.pages import sessions
from tracker.http.pages.i18n import language, plural, translator
from tracker.http.pages.render import page
from tracker.http.parsing import path_id
from tracker.services import receipts, web_sessions
from tracker.services.receipts import ReceiptView


def _minutes(seconds: float, lang: str) -> str:
    return number(seconds / 60, lang)


def _clipped(seconds: int, lang: str) -> str:
    """``12 min outside the session not counted`` (agreeing with the number), or nothing."""
    minutes = round(max(0, seconds) / 60, 2)
    return plural(lang, "receipt.clipped", minutes) if minutes else ""


def _clock(start: datetime, offset: int, zone: ZoneInfo) -> str:
    return f"{(start + timedelta(seconds=offset)).astimezone(zone):%H:%M:%S}"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def receipt_context(view: ReceiptView, lang: str, labels: dict[str, str]) -> dict[str, Any]:
    """What ``receipt.html`` shows of one receipt, worded in ``lang``."""
    t = translator(lang)
    receipt, series, award = view.receipt, view.series, view.award
    zone = ZoneInfo(series.timezone)
    start = _parse(receipt["window"][0])
    end = _parse(receipt["window"][1])
    connections = []
    for number_, connection in enumerate(receipt.get("connections", []), start=1):
        connections.append(
            {
                "name": t["receipt.connection"].format(number=number_),
                "id": connection.get("id") or "",
                "sources": ", ".join(
                    t.get(f"receipt.source.{kind}", kind)
                    for kind in source_kinds(connection.get("sources", []))
                ),
                "intervals": [
                    {
                        "from": _clock(start, a, zone),
                        "to": _clock(start, b, zone),
                        "counted": plural(lang, "receipt.counted", round(counted / 60, 2)),
                        "clipped": _clipped(b - a - counted, lang),
                        "closed": t["receipt.closed.leave" if by_leave else "receipt.closed.end"],
                    }
                    for a, b, counted, by_leave in connection.get("intervals", [])
                ],
            }
        )
    threshold = receipt.get("threshold")
    return {
        "title": series.title,
        "when": when(view.occurrence.start, series.timezone, lang),
        "zone": zone_name(series.timezone, lang),
        "physician": f"{view.physician.first_name} {view.physician.last_name}",
        "final": award.final,
        "revoked": view.revoked_at and long_date(view.revoked_at.astimezone(zone).date(), lang),
        "cancelled": view.occurrence.status == OccurrenceStatus.CANCELLED,
        "window": (f"{start.astimezone(zone):%H:%M}", f"{end.astimezone(zone):%H:%M}"),
        "connections": connections,
        "counted": [
            (_clock(start, a, zone), _clock(start, b, zone)) for a, b in receipt.get("counted", [])
        ],
        "minutes": _minutes(receipt.get("seconds", 0), lang),
        "clipped": _minutes(receipt.get("clipped_seconds", 0), lang),
        "overlap": _minutes(receipt.get("overlap_seconds", 0), lang),
        "threshold": None
        if threshold is None
        else {
            "percent": number(threshold["percent"], lang),
            "needed": _minutes(threshold["needed_seconds"], lang),
            "met": threshold["met"],
        },
        "credits": [
            {
                "label": labels.get(credit["type"], credit["type"]),
                "rounding": t.get(f"receipt.rounding.{credit['rounding']}", credit["rounding"]),
                "max": credit_amount(credit["max"], lang),
                "awarded": credit_amount(credit["awarded"], lang),
            }
            for credit in receipt.get("credits", [])
        ],
        "sources": ", ".join(
            t.get(f"receipt.source.{kind}", kind)
            for kind in source_kinds(receipt.get("sources", []))
        ),
        "rules": receipt.get("rules", ""),
        "computed": when(_parse(receipt["computed_at"]), series.timezone, lang)
        if receipt.get("computed_at")
        else "",
        "anomalies": len(receipt.get("anomalies", [])),
    }


async def me_receipt(request: web.Request) -> web.Response:
    """The signed-in physician's receipt for one of their sessions (another's: 404)."""
    found = await web_sessions.physician_session(request.app[DATABASE], sessions.cookie_of(request))
    if found is None:
        raise web.HTTPUnauthorized()  # answered as a localised page (tracker.http.pages.errors)
    _, physician = found
    lang = language(request, physician.language)
    occurrence_id = path_id(request, "occurrence_id")
    view = await receipts.receipt(request.app[SERVICES], occurrence_id, physician.id or 0)
    if view is None:
        raise web.HTTPNotFound()
    context = receipt_context(view, lang, request.app[MAIL].labels.of(lang))
    return page(request, "receipt.html", lang=lang, audience="physician", back="/me", **context)


async def organizer_receipt(request: web.Request) -> web.Response:
    """One physician's receipt at one session, linked from the session's attendance table."""
    if await sessions.current(request, kind="organizer") is None:
        raise web.HTTPSeeOther("/organizer/login")
    occurrence_id = path_id(request)
    physician_id = path_id(request, "physician_id")
    view = await receipts.receipt(request.app[SERVICES], occurrence_id, physician_id)
    if view is None:
        raise web.HTTPNotFound()
    lang = language(request)
    context = receipt_context(view, lang, request.app[MAIL].labels.of(lang))
    return page(
        request,
        "receipt.html",
        lang=lang,
        audience="organizer",
        back=f"/organizer/occurrences/{occurrence_id}",
        **context,
    )
