"""What this process remembers of the database between requests, and for how long.

A :class:`Memo` keeps a value read from the database while two things hold: this process has
committed nothing since it was read (:attr:`tracker.db.Database.generation`), and it is younger
than ``seconds``. The first makes every change made here visible at once; the second bounds how
long a change committed by another process (a second service process, a CLI command) can go
unseen. The least recently used values go first once ``size`` are held.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

_V = TypeVar("_V")


class Memo(Generic[_V]):
    def __init__(self, *, size: int = 4096) -> None:
        self._size = size
        self._values: OrderedDict[Hashable, tuple[int, float, _V]] = OrderedDict()

    def get(self, key: Hashable, *, generation: int, seconds: float) -> _V | None:
        found = self._values.get(key)
        if found is None:
            return None
        read_at_generation, read_at, value = found
        if read_at_generation != generation or time.monotonic() - read_at >= seconds:
            del self._values[key]
            return None
        self._values.move_to_end(key)
        return value

    def put(self, key: Hashable, value: _V, *, generation: int, seconds: float) -> None:
        """Remember ``value``, read when this process's commits stood at ``generation`` (taken
        *before* reading, so that a commit during the read makes it stale at once)."""
        if seconds <= 0:
            return
        self._values[key] = (generation, time.monotonic(), value)
        self._values.move_to_end(key)
        while len(self._values) > self._size:
            self._values.popitem(last=False)
