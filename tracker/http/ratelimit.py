"""Repeated failed credentials from one client get 429: a per-process, in-memory limiter.

Every door that takes a secret (organiser and physician bearer tokens, the personal link, the
personal feed, the organiser sign-in form, unsubscribe links, certificate codes) counts the
failed attempts of each client. Past ``limit`` failures within ``window`` seconds, that client
gets 429 with ``Retry-After`` on that door, right credential or not (answering a right guess
would let guessing go on), until its oldest failure leaves the window. Successful requests are
never counted, and a missing credential is not a guess.

The count lives in this process only: N processes behind a load balancer allow N times the
limit. That is enough against guessing 256-bit tokens (the point is to stop noisy scans and
keep them out of the database), and it needs nothing shared.

The client is the TCP peer. ``X-Forwarded-For`` is believed only when the peer is a configured
trusted proxy (``TRACKER_TRUSTED_PROXIES``); otherwise anyone could claim any address.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from tracker.http.keys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FailureLimiter:
    """Failures per (door, client) in a sliding window; memory bounded by ``max_clients``."""

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.time,
        max_clients: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, door: str, client: str) -> int | None:
        """Seconds this client must wait before trying ``door`` again, or None if it may."""
        failures = self._failures.get((door, client))
        if failures is None or len(failures) < self.limit:
            return None
        wait = failures[0] + self.window - self._clock()
        if wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def failed(self, door: str, client: str) -> None:
        """Count one failed credential of ``client`` at ``door``."""
        key = (door, client)
        failures = self._failures.pop(key, None) or deque(maxlen=self.limit)
        failures.append(self._clock())
        self._failures[key] = failures  # re-inserted: the dict is ordered by last failure
        if len(self._failures) > self._max_clients:
            self._forget_old()

    def _forget_old(self) -> None:
        """Drop clients whose failures all left the window, then the least recent ones."""
        horizon = self._clock() - self.window
        for key in [k for k, failures in self._failures.items() if failures[-1] <= horizon]:
            del self._failures[key]
        while len(self._failures) > self._max_clients:
            del self._failures[next(iter(self._failures))]


@functools.lru_cache(maxsize=16)
def _parse(addresses: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(a.strip(), strict=False) for a in addresses if a.strip())


def parse_networks(addresses: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.1", "192.168.0.0/16"]`` as networks; raises ValueError on a bad one."""
    return _parse(tuple(addresses))


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.BaseRequest, *, trusted: Iterable[str] = ()) -> str:
    """The client this request counts against.

    Behind trusted proxies, the right-most ``X-Forwarded-For`` hop that is not itself a trusted
    proxy: hops to its left were written by the client and prove nothing.
    """
    peer = request.remote or "unknown"
    networks = parse_networks(trusted)
    if not networks or not _within(peer, networks):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if not _within(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from a proxy we trust: count it against the proxy
    return peer


LIMITER = web.AppKey("failure_limiter", FailureLimiter)


def requester(request: web.Request) -> str:
    """The client a request counts against (behind the configured trusted proxies)."""
    return client_address(request, trusted=request.app[SETTINGS].trusted_proxy_list)


@dataclass(frozen=True)
class ClientDoor:
    """A door where each client may pass ``limit`` times per ``window`` seconds (a sliding
    window, in this process), whatever the outcome: for requests that send an email to an
    address anyone may type. Each door has its own limiter in the app (:meth:`install`)."""

    name: str
    limit: int
    window: float
    key: web.AppKey[FailureLimiter]

    def install(self, app: web.Application) -> None:
        app[self.key] = FailureLimiter(limit=self.limit, window=self.window)

    def wait(self, request: web.Request) -> int | None:
        """Seconds this client must wait before passing again, or ``None`` if it may now."""
        return request.app[self.key].retry_after(self.name, requester(request))

    def count(self, request: web.Request) -> None:
        request.app[self.key].failed(self.name, requester(request))


#: Self-registration requests per client (the API and the form together): each one accepted
#: sends an email, so a client may have this many accepted per window, then gets 429.
SELF_REGISTRATION = ClientDoor(
    "self-registration", 10, 600.0, web.AppKey("request_limiter", FailureLimiter)
)
#: Sign-in link requests per client (the API and the form together; only valid ones count).
SIGN_IN = ClientDoor(
    "sign-in link request", 10, 15 * 60.0, web.AppKey("sign_in_limiter", FailureLimiter)
)
