"""The claim page (SPEC 7): opened from the credits-are-final email without signing in.

Opening the link (``GET``) only shows the form: mail scanners open every link of an email, and
must not spend the claim. Submitting (``POST``) claims, once; the link's code is the credential,
so no cookie is involved and a forged cross-site form cannot know it.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from schedules.wording import credit_amount, number
from tracker.domain import limits
from tracker.domain.claims import ClaimForm, ClaimView
from tracker.domain.localtime import when, when_named
from tracker.domain.numerals import whole_number
from tracker.http.keys import MAIL, SERVICES
from tracker.http.pages.i18n import language, plural, translator
from tracker.http.pages.render import message_page, page
from tracker.http.parsing import read_form
from tracker.services import claims as claim_service


def _lang(request: web.Request, view: ClaimView | None, form: dict[str, str] | None = None) -> str:
    chosen = (form or {}).get("lang")
    if chosen in ("fr", "en"):
        return chosen
    return language(request, view.physician.language if view else None)


def _unknown(request: web.Request, lang: str) -> web.Response:
    t = translator(lang)
    return message_page(
        request, t["claim.unknown.title"], t["claim.unknown"], status=404, lang=lang
    )


def _closed(request: web.Request, view: ClaimView, lang: str) -> web.Response:
    t = translator(lang)
    closed = when(view.claim.closes_at, view.physician.timezone, lang)
    return message_page(
        request,
        t["claim.closed.title"],
        t["claim.closed"].format(title=view.series.title, closed=closed),
        status=410,
        lang=lang,
    )


def _claimed(request: web.Request, view: ClaimView, lang: str, *, status: int) -> web.Response:
    t = translator(lang)
    return message_page(
        request,
        t["claim.claimed.title"],
        t["claim.claimed"].format(title=view.series.title),
        status=status,
        lang=lang,
    )


def _credit_text(credits: dict[str, float], labels: dict[str, str], lang: str) -> list[str]:
    return [
        f"{labels.get(code, code)} : {credit_amount(value, lang)}"
        if lang == "fr"
        else f"{labels.get(code, code)}: {credit_amount(value, lang)}"
        for code, value in sorted(credits.items())
    ]


def _minutes_text(value: Decimal, lang: str) -> str:
    """The pre-filled minutes as the reader types them (``47,5`` in French)."""
    text = f"{value.normalize():f}"
    return text.replace(".", ",") if lang == "fr" else text


def _form_page(
    request: web.Request,
    view: ClaimView,
    lang: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    t = translator(lang)
    labels = request.app[MAIL].labels.of(lang)
    counted = plural(lang, "claim.minutes", float(view.minutes))  # "1 minute", "47,5 minutes"
    messages = {
        name: t[key].format(minutes=_minutes_text(view.minutes, lang), counted=counted)
        for name, key in (errors or {}).items()
    }
    response = page(
        request,
        "claim.html",
        status=status,
        lang=lang,
        view=view,
        title=view.series.title,
        when=when(view.occurrence.start, view.physician.timezone, lang),
        closes=when_named(view.claim.closes_at, view.physician.timezone, lang),
        minutes=_minutes_text(view.minutes, lang),
        minutes_shown=number(float(view.minutes), lang),
        minutes_count=float(view.minutes),
        credits=_credit_text(view.award.credits, labels, lang),
        questions=[
            {
                "id": q.id,
                "kind": q.kind,
                "text": q.text_fr if lang == "fr" else q.text_en,
            }
            for q in view.questions
        ],
        errors=messages,
        values=values or {},
        action=request.path,
        answer_max=limits.ANSWER_TEXT,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def claim_page(request: web.Request) -> web.Response:
    """The link from the email: the form, or why it cannot be used."""
    view = await claim_service.claim_view(request.app[SERVICES], request.match_info["code"])
    lang = _lang(request, view)
    if view is None:
        return _unknown(request, lang)
    if view.status == "claimed":
        return _claimed(request, view, lang, status=200)
    if view.status == "closed":
        return _closed(request, view, lang)
    return _form_page(request, view, lang)


def _form(values: dict[str, str]) -> ClaimForm:
    answers: dict[int, str] = {}
    for name, value in values.items():
        question = whole_number(name[1:], max_digits=10) if name.startswith("q") else None
        if question is not None:
            answers[question] = value
    return ClaimForm(
        minutes=values.get("minutes", "")[:40],
        attested=values.get("attest") == "yes",
        answers=answers,
    )


async def submit_claim(request: web.Request) -> web.Response:
    """The form: the claim recorded, the certificate issued and emailed; or the form again with
    the errors next to their fields; or why the link cannot be used any more."""
    values = dict((await read_form(request)).items())
    outcome = await claim_service.submit_claim(
        request.app[SERVICES], request.match_info["code"], _form(values)
    )
    view = outcome.view
    lang = _lang(request, view, values)
    if view is None:
        return _unknown(request, lang)
    if outcome.status == "claimed":
        return _claimed(request, view, lang, status=409)
    if outcome.status == "closed":
        return _closed(request, view, lang)
    if outcome.status == "invalid":
        shown = {k: v[: limits.ANSWER_TEXT] for k, v in values.items()}
        return _form_page(request, view, lang, status=422, errors=outcome.errors, values=shown)
    t = translator(lang)
    credits = _credit_text(outcome.credits or {}, request.app[MAIL].labels.of(lang), lang)
    return message_page(
        request,
        t["claim.done.title"],
        t["claim.done"].format(
            title=view.series.title, credits=", ".join(credits), email=view.physician.email
        ),
        lang=lang,
    )
