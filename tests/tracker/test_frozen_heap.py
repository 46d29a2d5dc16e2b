"""A serving process moves what it holds for life out of the garbage collector's way once it
has started (``tracker.app.freeze_heap``), so that a full collection under a storm walks only
what requests made, and collects its young objects less often."""

from __future__ import annotations

import subprocess
import sys

from tracker.app import YOUNG_COLLECTION_THRESHOLD

SCRIPT = """
import asyncio, gc
from sqlalchemy.orm import Mapper
from tracker.app import freeze_heap
from schedules.models import Series
assert gc.get_freeze_count() == 0
asyncio.run(freeze_heap(None))
mapper = Series.__mapper__
print(gc.get_freeze_count() > 10_000, mapper.configured, gc.is_tracked(mapper))
print(gc.get_threshold()[0])
"""


def test_a_started_server_freezes_what_it_holds_and_has_its_mappers_configured() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.split() == ["True", "True", "True", str(YOUNG_COLLECTION_THRESHOLD)]
