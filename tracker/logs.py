"""An access log that never writes a secret: personal tokens in paths are masked."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_SECRET_PATHS = re.compile(r"^/(me|feeds|unsubscribe)/(?!certificates/)[^/?]+")


def redact(path: str) -> str:
    """``/feeds/phy_abc.ics`` → ``/feeds/…``; other paths unchanged, query strings dropped."""
    bare = path.split("?", 1)[0]
    return _SECRET_PATHS.sub(lambda match: f"/{match.group(1)}/…", bare)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            redact(request.path_qs),
            response.status,
            response.body_length,
            time,
        )
