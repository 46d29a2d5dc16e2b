"""Sign-in links on the pages: the "email me a link" form, and the link itself.

The link in the email (``GET /me/sign-in/{code}``) does not sign in: it shows a page with a
"Sign in" button, and the button's ``POST`` uses the link. Mail security scanners (Microsoft
Defender's Safe Links, Proofpoint, Mimecast…) open every link of an incoming email to inspect
it, often before the recipient does; a link used by ``GET`` would be spent by the scanner, and
the physician would find it "already used". Scanners do not submit forms.

The button's form carries a double-submit token (a cookie set with the page, ``SameSite=Strict``,
and the same value in the form), so another site cannot post someone else's link code from a
victim's browser and sign them into that account (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from pydantic import ValidationError

from tracker.domain import limits
from tracker.domain.schemas import SignInLinkRequest
from tracker.http.api.sign_in import ask_for_link
from tracker.http.keys import SERVICES, SETTINGS
from tracker.http.pages import sessions
from tracker.http.pages.i18n import language, translator
from tracker.http.pages.render import message_page, page, secure_cookies
from tracker.http.parsing import read_form
from tracker.http.ratelimit import SIGN_IN
from tracker.services import sign_in_links

LINK_COOKIE = "tracker_link"


def _form_language(request: web.Request, form: dict[str, str]) -> str:
    chosen = form.get("lang")
    return chosen if chosen in ("fr", "en") else language(request)


async def sign_in_form(request: web.Request) -> web.Response:
    """The form alone (where a page links to "get a sign-in link")."""
    t = translator(language(request))
    return message_page(request, t["signin.link.title"], t["signin.link.intro"], sign_in_form=True)


async def signed_out(request: web.Request) -> web.Response:
    """Where signing out lands: said so, with the form to come back."""
    t = translator(language(request))
    return message_page(request, t["signedout.title"], t["signedout"], sign_in_form=True)


async def send_sign_in_link(request: web.Request) -> web.Response:
    """The form's answer: the same message whether the address is known or not."""
    if not sessions.same_origin(request, request.app[SETTINGS].base_url):
        raise web.HTTPForbidden(text="this form was not sent from this site")
    form = dict((await read_form(request)).items())
    lang = _form_language(request, form)
    t = translator(lang)
    wait = SIGN_IN.wait(request)
    if wait is not None:
        response = message_page(
            request,
            t["error.title"].format(status=429),
            t["signin.link.busy"].format(minutes=max(1, -(-wait // 60))),
            status=429,
            lang=lang,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    email = form.get("email", "").strip()
    try:
        data = SignInLinkRequest(email=email)
    except ValidationError:
        return message_page(
            request,
            t["signin.link.title"],
            t["signin.link.intro"],
            status=422,
            lang=lang,
            sign_in_form=True,
            form_error=t["signin.link.invalid"],
            email_value=email[: limits.EMAIL],
        )
    ask_for_link(request, data.email)
    return message_page(request, t["signin.link.sent.title"], t["signin.link.sent"], lang=lang)


def _spent(request: web.Request, lang: str | None = None) -> web.Response:
    """A link unknown, expired or used: said so, with the form to ask for a new one."""
    lang = lang or language(request)
    t = translator(lang)
    return message_page(
        request,
        t["signin.link.expired.title"],
        t["signin.link.expired"],
        status=404,
        lang=lang,
        sign_in_form=True,
    )


async def sign_in_link_page(request: web.Request) -> web.Response:
    """The link from the email: a button to press, if the link can still be used."""
    code = request.match_info["code"]
    if not await sign_in_links.link_usable(request.app[SERVICES], code):
        return _spent(request)
    token = request.cookies.get(LINK_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "sign_in_link.html", action=request.path, csrf=token)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        LINK_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(request),
        path="/me/sign-in/",
    )
    return response


async def sign_in_with_link(request: web.Request) -> web.StreamResponse:
    """The button: uses the link once and opens a page session, then to ``/me``."""
    form = dict((await read_form(request)).items())
    cookie = request.cookies.get(LINK_COOKIE, "")
    submitted = form.get("csrf", "")
    if not (cookie and submitted and hmac.compare_digest(cookie, submitted)):
        raise web.HTTPForbidden(text="this form was not sent from this site; open the link again")
    raw = await sign_in_links.sign_in_with_link(request.app[SERVICES], request.match_info["code"])
    if raw is None:
        return _spent(request, _form_language(request, form))
    response = web.HTTPSeeOther(
        "/me", headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    )
    sessions.set_cookie(response, raw, secure=secure_cookies(request))
    response.del_cookie(LINK_COOKIE, path="/me/sign-in/")
    raise response
