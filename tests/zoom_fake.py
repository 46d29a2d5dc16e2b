"""A local stand-in for Zoom's REST API and OAuth server, following Zoom's documented requests
and answers (Server-to-Server OAuth, ``batch_registrants``, ``registrants/status``,
``past_webinars/{id}/instances``, ``report/webinars/{uuid}/participants`` with ``page_size`` and
``next_page_token``), with the failures that matter: 429 with ``Retry-After``, 5xx, a token
that expires (401, code 124), and emails hidden or masked.

Everything runs on 127.0.0.1; :func:`loopback_only` makes any other connection fail the test.
"""

from __future__ import annotations

import base64
import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web

ACCOUNT, CLIENT_ID, CLIENT_SECRET = "acct-123", "client-abc", "secret-xyz"


@dataclass
class Seen:
    method: str
    raw_path: str
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class FakeZoom:
    #: Participant rows of each instance (by decoded UUID, or webinar id for its only instance).
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Past instances of each webinar: (uuid, start ISO).
    instances: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: Registrants of each webinar: registrant id -> (email, status).
    registrants: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    #: Answers to give before the real one, per route name: (status, Retry-After or None).
    failures: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    token_lifetime: int = 3600
    seen: list[Seen] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def expire_tokens(self) -> None:
        """Zoom revoked (or expired) every token: the next call gets 401."""
        self.valid_tokens.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_post("/v2/webinars/{id}/batch_registrants", self.batch_registrants)
        app.router.add_put("/v2/webinars/{id}/registrants/status", self.registrant_status)
        app.router.add_get("/v2/past_webinars/{id}/instances", self.past_instances)
        app.router.add_get("/v2/report/webinars/{tail:.+}", self.participants)
        return app

    async def _seen(self, request: web.Request) -> None:
        body = await request.json() if request.can_read_body else None
        self.seen.append(
            Seen(
                request.method,
                request.raw_path.split("?")[0],
                dict(request.query),
                body,
                request.headers.get("Authorization", ""),
            )
        )

    def _failure(self, name: str) -> web.Response | None:
        queue = self.failures.get(name)
        if not queue:
            return None
        status, retry_after = queue.pop(0)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        message = {
            429: "You have reached the maximum per-second rate limit for this API.",
            404: "Webinar does not exist.",
        }.get(status, "Internal error")
        return web.json_response(
            {"code": status, "message": message}, status=status, headers=headers
        )

    def _authorized(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        return None

    async def token(self, request: web.Request) -> web.Response:
        await self._seen(request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                status=400,
            )
        if (
            request.query.get("grant_type") != "account_credentials"
            or request.query.get("account_id") != ACCOUNT
        ):
            return web.json_response(
                {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, status=400
            )
        self.tokens_issued += 1
        token = f"token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": "webinar:write:batch_registrants:admin report:read:list_webinar_participants:admin",
                "api_url": "https://api.zoom.us",
            }
        )

    async def batch_registrants(self, request: web.Request) -> web.Response:
        await self._seen(request)
        refused = self._authorized(request) or self._failure("batch_registrants")
        if refused:
            return refused
        body = await request.json()
        people = body.get("registrants") or []
        if not body.get("auto_approve") or not 1 <= len(people) <= 30:
            return web.json_response({"code": 300, "message": "Invalid registrants"}, status=400)
        webinar = request.match_info["id"]
        known = self.registrants.setdefault(webinar, {})
        answer = []
        for person in people:
            if not person.get("email") or not person.get("first_name"):
                return web.json_response({"code": 300, "message": "Invalid field."}, status=400)
            rid = next(
                (r for r, (e, s) in known.items() if e == person["email"] and s == "approved"), None
            )
            if rid is None:
                rid = f"reg{next(self._ids):06d}x"
                known[rid] = (person["email"], "approved")
            answer.append(
                {
                    "email": person["email"],
                    "join_url": f"https://zoom.us/w/{webinar}?tk=personal-{rid}",
                    "registrant_id": rid,
                }
            )
        return web.json_response({"registrants": answer})

    async def registrant_status(self, request: web.Request) -> web.Response:
        await self._seen(request)
        refused = self._authorized(request) or self._failure("registrant_status")
        if refused:
            return refused
        body = await request.json()
        if (
            body.get("action") not in ("approve", "deny", "cancel")
            or not 1 <= len(body.get("registrants") or []) <= 30
        ):
            return web.json_response({"code": 300, "message": "Invalid action"}, status=400)
        known = self.registrants.setdefault(request.match_info["id"], {})
        for person in body["registrants"]:
            if person.get("id") in known:
                known[person["id"]] = (known[person["id"]][0], "cancelled")
        return web.Response(status=204)

    async def past_instances(self, request: web.Request) -> web.Response:
        await self._seen(request)
        refused = self._authorized(request) or self._failure("past_instances")
        if refused:
            return refused
        rows = self.instances.get(request.match_info["id"])
        if rows is None:
            return web.json_response(
                {"code": 3001, "message": "Webinar does not exist."}, status=404
            )
        return web.json_response({"webinars": [{"uuid": u, "start_time": s} for u, s in rows]})

    async def participants(self, request: web.Request) -> web.Response:
        await self._seen(request)
        refused = self._authorized(request) or self._failure("participants")
        if refused:
            return refused
        tail = request.raw_path.split("?")[0].removeprefix("/v2/report/webinars/")
        if not tail.endswith("/participants"):
            raise web.HTTPNotFound()
        segment = tail.removesuffix("/participants")
        once = unquote(segment)  # Zoom decodes the path once before routing: a leading "/" or
        if once.startswith("/") or "//" in once:  # a "//" left after it misroutes the call
            return web.json_response(
                {"code": 3001, "message": "Meeting does not exist"}, status=404
            )
        uuid = unquote(once) if "%" in once else once
        rows = self.reports.get(uuid)
        if rows is None:
            return web.json_response(
                {"code": 3001, "message": "This webinar has not ended or is not a past webinar."},
                status=404,
            )
        size = min(int(request.query.get("page_size", "30")), 300)
        start = int(request.query.get("next_page_token") or 0)
        page = rows[start : start + size]
        following = start + size
        return web.json_response(
            {
                "page_count": (len(rows) + size - 1) // size,
                "page_size": size,
                "total_records": len(rows),
                "next_page_token": str(following) if following < len(rows) else "",
                "participants": page,
            }
        )


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any connection that is not to 127.0.0.1 (nothing reaches the network); returns the
    addresses connected to."""
    reached: list[Any] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        reached.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"a test tried to reach {address!r}")
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return reached
