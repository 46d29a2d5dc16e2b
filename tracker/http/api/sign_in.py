"""``POST /api/sign-in-links``: a one-time sign-in link by email, without telling who is known.

The answer is 202 and the same body for every valid address, and it is given before the
address is even looked up: the lookup, the per-address limit and the email happen afterwards
(:data:`~tracker.http.background.BACKGROUND`), so neither the answer nor its timing says whether
the address belongs to a physician. A request lost to a crash in between costs the physician a
second click.

Two limits: per address (in the database, across processes: at most
:data:`~tracker.domain.sign_in_links.ADDRESS_LIMIT` links per window, silently: still 202), and
per client (in this process: past :data:`CLIENT_LIMIT` requests within :data:`CLIENT_WINDOW`
seconds, 429 with ``Retry-After``; it says nothing about any address).
"""

from __future__ import annotations

from aiohttp import web

from tracker.domain.schemas import SignInLinkAccepted, SignInLinkRequest
from tracker.http.background import BACKGROUND
from tracker.http.keys import SERVICES, SETTINGS
from tracker.http.parsing import json_response, read_json
from tracker.http.problems import HTTPProblem
from tracker.http.ratelimit import FailureLimiter, client_address
from tracker.services import sign_in_links

CLIENT_LIMIT = 10
CLIENT_WINDOW = 15 * 60.0
DOOR = "sign-in link request"
ACCEPTED = "If this address belongs to a physician, a sign-in link valid 30 minutes was sent to it."
#: Every request for a link counts here (not only failures): the limiter's sliding window.
SIGN_IN_LIMITER = web.AppKey("sign_in_limiter", FailureLimiter)


def new_limiter() -> FailureLimiter:
    return FailureLimiter(limit=CLIENT_LIMIT, window=CLIENT_WINDOW)


def _client(request: web.Request) -> str:
    return client_address(request, trusted=request.app[SETTINGS].trusted_proxy_list)


def client_wait(request: web.Request) -> int | None:
    """Seconds this client must wait before asking again, or None if it may ask now."""
    return request.app[SIGN_IN_LIMITER].retry_after(DOOR, _client(request))


def ask_for_link(request: web.Request, email: str) -> None:
    """Count the request against its client, then start the lookup and the email; returns at
    once (see the module's docstring). Only valid requests count: an invalid one sends
    nothing."""
    request.app[SIGN_IN_LIMITER].failed(DOOR, _client(request))
    request.app[BACKGROUND].spawn(
        sign_in_links.request_link(request.app[SERVICES], email), name="sign-in link"
    )


async def request_sign_in_link(request: web.Request) -> web.Response:
    wait = client_wait(request)
    if wait is not None:
        raise HTTPProblem(
            429,
            f"too many sign-in link requests from your address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    data = await read_json(request, SignInLinkRequest)
    ask_for_link(request, data.email)
    response = json_response(SignInLinkAccepted(detail=ACCEPTED), status=202)
    response.headers["Cache-Control"] = "no-store"
    return response
