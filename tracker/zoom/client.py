"""Zoom's REST API, as this service uses it: one async client over aiohttp (SPEC 8).

Server-to-Server OAuth: ``POST {oauth_url}?grant_type=account_credentials&account_id=…`` with
the client id and secret as HTTP basic auth gives a bearer token for about an hour. The token is
cached per process (one cache shared by every client of the same app), used until a minute
before it expires, and renewed at once when Zoom answers 401 (revoked, or the clock lied).

Zoom limits requests per second and per day: a 429 (and a 5xx) is retried after the
``Retry-After`` it gives (or 1, 2, 4… seconds), a bounded number of times; a wait longer than
``max_wait`` (the daily limit says "tomorrow") fails at once with Zoom's reason.

Lists are paged by ``next_page_token``: :meth:`ZoomClient.pages` follows it to the end.
Instance UUIDs may hold ``/``, ``+`` and ``=``: a UUID that starts with ``/`` or holds ``//``
must be URL-encoded twice (Zoom's rule), others once.
"""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from tracker.errors import ZoomAPIError

log = logging.getLogger(__name__)

#: Zoom's largest page of report participants and past instances.
PAGE_SIZE = 300
#: Registrants per ``batch_registrants`` call (Zoom's limit) and per status change.
REGISTRANT_BATCH = 30
#: A token is renewed this long before Zoom says it expires.
TOKEN_MARGIN = 60.0


@dataclass(frozen=True)
class Token:
    value: str
    expires: float  # time.monotonic()


#: Tokens of this process, by (OAuth URL, account, client): every client shares them.
_TOKENS: dict[tuple[str, str, str], Token] = {}
_TOKEN_LOCKS: dict[tuple[tuple[str, str, str], int], asyncio.Lock] = {}


class _Unauthorized:
    """Zoom answered 401 to an API call: the caller renews the token and tries again."""


def forget_tokens() -> None:
    """Drop the cached tokens (tests; a credentials change)."""
    _TOKENS.clear()
    _TOKEN_LOCKS.clear()


def instance_path(uuid: str) -> str:
    """A webinar instance UUID as a path segment: twice encoded when it starts with ``/`` or
    holds ``//`` (Zoom decodes once before routing), else once."""
    once = quote(uuid, safe="")
    if uuid.startswith("/") or "//" in uuid:
        return quote(once, safe="")
    return once


@dataclass(frozen=True)
class Registrant:
    """Someone to register: Zoom wants an email and a first name."""

    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Added:
    email: str
    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class Instance:
    uuid: str
    start_time: datetime


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _reason(status: int, body: Any) -> str:
    if isinstance(body, Mapping):
        message = body.get("message") or body.get("reason") or body.get("error")
        if message:
            return f"{status} {str(message)[:200]}"
    return str(status)


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ZoomClient:
    """One Zoom account's API. Use as ``async with ZoomClient(...) as zoom:`` (or :meth:`close`)."""

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_url: str,
        oauth_url: str,
        timeout: aiohttp.ClientTimeout | None = None,
        attempts: int = 5,
        max_wait: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._account_id = account_id
        self._client_id = client_id
        self._secret = client_secret
        self._api = api_url.rstrip("/")
        self._oauth = oauth_url
        self._timeout = timeout or aiohttp.ClientTimeout(total=30, connect=10)
        self._attempts = attempts
        self._max_wait = max_wait
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._key = (oauth_url, account_id, client_id)

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False)
        return self._session

    # OAuth -------------------------------------------------------------------------------

    async def _token(self, *, stale: str | None = None) -> str:
        """A valid token: the cached one, or a new one (``stale``: the one Zoom just refused)."""
        loop = id(asyncio.get_running_loop())  # a lock belongs to one event loop
        lock = _TOKEN_LOCKS.setdefault((self._key, loop), asyncio.Lock())
        async with lock:
            cached = _TOKENS.get(self._key)
            if cached and cached.value != stale and cached.expires > time.monotonic():
                return cached.value
            token = await self._new_token()
            _TOKENS[self._key] = token
            return token.value

    async def _new_token(self) -> Token:
        basic = base64.b64encode(f"{self._client_id}:{self._secret}".encode()).decode()
        params = {"grant_type": "account_credentials", "account_id": self._account_id}
        body = await self._send(
            "POST",
            URL(self._oauth),
            params=params,
            headers={"Authorization": f"Basic {basic}"},
            what="the OAuth token request",
        )
        if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str):
            raise ZoomAPIError("Zoom's OAuth answer holds no access_token")
        lifetime = body.get("expires_in", 3600)
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        return Token(body["access_token"], time.monotonic() + max(0.0, seconds - TOKEN_MARGIN))

    # Requests ----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: URL,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str],
        what: str,
    ) -> Any:
        """One request with retries on 429, 5xx and network failures; returns the JSON body
        (``None`` for an empty one). A 401 to an API call returns :class:`_Unauthorized` (the
        caller renews the token); other 4xx raise :class:`ZoomAPIError`."""
        last = "no answer"
        for attempt in range(self._attempts):
            wait: float | None = None
            try:
                async with self._http().request(
                    method, url, params=params, json=json, headers=headers
                ) as response:
                    status = response.status
                    text = await response.text()
                    body = _json(text)
                    if status < 300:
                        return body
                    if status == 401 and "Bearer" in headers.get("Authorization", ""):
                        return _Unauthorized()
                    if status == 429 or status >= 500:
                        last = _reason(status, body)
                        wait = _retry_after(response.headers.get("Retry-After"))
                    else:
                        raise ZoomAPIError(
                            f"Zoom answered {_reason(status, body)} to {what}", status=status
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__
            if attempt + 1 == self._attempts:
                break
            delay = wait if wait is not None else float(2**attempt)
            if delay > self._max_wait:
                raise ZoomAPIError(
                    f"Zoom answered {last} to {what} and asks to wait {delay:.0f} s", status=429
                )
            log.info("Zoom: %s to %s; retrying in %.1f s", last, what, delay)
            await self._sleep(delay)
        raise ZoomAPIError(f"Zoom answered {last} to {what} ({self._attempts} attempts)")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        """An API call (``path`` already encoded, from the API base); renews the token once on 401."""
        url = URL(self._api + path, encoded=True)
        what = f"{method} {path.split('?')[0]}"
        stale: str | None = None
        for _ in range(2):
            token = await self._token(stale=stale)
            headers = {"Authorization": f"Bearer {token}"}
            answer = await self._send(
                method, url, params=params, json=json, headers=headers, what=what
            )
            if isinstance(answer, _Unauthorized):
                stale = token
                continue
            return answer
        raise ZoomAPIError(f"Zoom refused the credentials (401) to {what}", status=401)

    async def pages(
        self, path: str, key: str, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list (``key``: the list's name in each page)."""
        query = {"page_size": str(PAGE_SIZE), **(params or {})}
        while True:
            body = await self.request("GET", path, params=query)
            if not isinstance(body, Mapping):
                raise ZoomAPIError(f"Zoom's answer to GET {path} is not an object")
            for item in body.get(key) or []:
                if isinstance(item, dict):
                    yield item
            token = body.get("next_page_token")
            if not token:
                return
            query = {**query, "next_page_token": str(token)}

    # Webinars ----------------------------------------------------------------------------

    async def add_registrants(self, webinar_id: str, people: Sequence[Registrant]) -> list[Added]:
        """Register up to :data:`REGISTRANT_BATCH` people, approved at once (Zoom sends no
        email of its own: this service's reminders carry the link)."""
        body = await self.request(
            "POST",
            f"/webinars/{quote(webinar_id, safe='')}/batch_registrants",
            json={
                "auto_approve": True,
                "registrants_confirmation_email": False,
                "registrants": [
                    {"email": p.email, "first_name": p.first_name or "-", "last_name": p.last_name}
                    for p in people[:REGISTRANT_BATCH]
                ],
            },
        )
        added: list[Added] = []
        for row in (body or {}).get("registrants") or []:
            if isinstance(row, dict) and row.get("registrant_id") and row.get("email"):
                added.append(
                    Added(
                        email=str(row["email"]).lower(),
                        registrant_id=str(row["registrant_id"]),
                        join_url=str(row.get("join_url") or ""),
                    )
                )
        return added

    async def cancel_registrants(self, webinar_id: str, people: Sequence[tuple[str, str]]) -> None:
        """Cancel registrants given as (registrant id, email), up to :data:`REGISTRANT_BATCH`."""
        await self.request(
            "PUT",
            f"/webinars/{quote(webinar_id, safe='')}/registrants/status",
            json={
                "action": "cancel",
                "registrants": [
                    {"id": rid, "email": email} for rid, email in people[:REGISTRANT_BATCH]
                ],
            },
        )

    async def past_instances(self, webinar_id: str) -> list[Instance]:
        body = await self.request("GET", f"/past_webinars/{quote(webinar_id, safe='')}/instances")
        found: list[Instance] = []
        for row in (body or {}).get("webinars") or []:
            start = _iso(row.get("start_time")) if isinstance(row, dict) else None
            if start is not None and isinstance(row.get("uuid"), str):
                found.append(Instance(row["uuid"], start))
        return found

    async def participants(self, instance: str) -> list[dict[str, Any]]:
        """Every row of the participant report of one webinar instance (UUID) or of a webinar's
        only/latest instance (its id), all pages."""
        path = f"/report/webinars/{instance_path(instance)}/participants"
        return [row async for row in self.pages(path, "participants")]


def _json(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return {"message": text[:200]}
