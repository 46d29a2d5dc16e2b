"""Work a handler starts and does not wait for: the answer goes first, the work follows.

The application awaits what is still running when it shuts down (before the database closes),
so nothing started is cut off by a clean stop; a crash loses it (each use of this says why that
is acceptable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class Background:
    """The tasks started by handlers, kept referenced until they end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for every task started so far (and those they start)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


BACKGROUND = web.AppKey("background", Background)


async def drain_background(app: web.Application) -> None:
    """``on_shutdown``: let started work finish while the database is still open."""
    await app[BACKGROUND].drain()
