"""``POST /api/sign-in-links``: a one-time sign-in link by email, without telling who is known.

The answer is 202 and the same body for every valid address, and it is given before the
address is even looked up: the lookup, the per-address limit and the email happen afterwards
(:data:`~tracker.http.background.BACKGROUND`), so neither the answer nor its timing says whether
the address belongs to a physician. A request lost to a crash in between costs the physician a
second click.

Two limits: per address (in the database, across processes: at most
:data:`~tracker.domain.sign_in_links.ADDRESS_LIMIT` links per window, silently: still 202), and
per client (in this process: past :data:`~tracker.http.ratelimit.SIGN_IN`'s limit within its window
of seconds, 429 with ``Retry-After``; it says nothing about any address).
"""

from __future__ import annotations

from aiohttp import web

from tracker.domain.schemas import SignInLinkAccepted, SignInLinkRequest
from tracker.http.background import BACKGROUND
from tracker.http.keys import SERVICES
from tracker.http.parsing import json_response, read_json
from tracker.http.problems import HTTPProblem
from tracker.http.ratelimit import SIGN_IN
from tracker.services import sign_in_links

ACCEPTED = "If this address belongs to a physician, a sign-in link valid 30 minutes was sent to it."


def ask_for_link(request: web.Request, email: str) -> None:
    """Count the request against its client, then start the lookup and the email; returns at
    once (see the module's docstring). Only valid requests count: an invalid one sends
    nothing."""
    SIGN_IN.count(request)
    request.app[BACKGROUND].spawn(
        sign_in_links.request_link(request.app[SERVICES], email), name="sign-in link"
    )


async def request_sign_in_link(request: web.Request) -> web.Response:
    wait = SIGN_IN.wait(request)
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
