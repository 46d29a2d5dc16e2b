"""Domain events and a small in-process bus: recording attendance publishes, projections react.

Handlers run after the publishing transaction committed; a failing handler is logged and never
undoes what was recorded (the finalisation job recomputes from the stored events anyway).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttendanceRecorded:
    """New facts for these (occurrence id, physician id) pairs; ``occurrences`` had an end event."""

    pairs: frozenset[tuple[int, int]]
    occurrences: frozenset[int] = frozenset()


@dataclass(frozen=True)
class OccurrenceChanged:
    """An occurrence moved (or was restored): its credits depend on its window."""

    occurrence_id: int


E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: object) -> None:
        for handler in self._handlers[type(event)]:
            try:
                await handler(event)
            except Exception:
                log.exception(
                    "handler %s failed on %r", getattr(handler, "__name__", handler), event
                )
