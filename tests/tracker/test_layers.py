"""The entry points are thin: handlers, CLI commands and jobs parse, call one service, and
render or schedule. None of them opens a database session or commits (``docs/architecture.md``);
a use case that needs the database, reading or writing, is a function of ``tracker.services``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.any_engine

TRACKER = Path(__file__).resolve().parents[2] / "tracker"
ENTRY_POINTS = sorted([*(TRACKER / "http").rglob("*.py"), TRACKER / "cli.py", TRACKER / "jobs.py"])
#: ``.session()`` on a database, ``.commit()`` on a session, ``.begin()`` on an engine.
DATABASE_WORK = re.compile(r"\.(session|commit|begin)\(\)")


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: str(p.relative_to(TRACKER)))
def test_no_entry_point_opens_a_session_or_commits(path: Path) -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if DATABASE_WORK.search(line)
    ]
    assert found == []


def test_the_scan_sees_the_entry_points() -> None:
    names = {p.name for p in ENTRY_POINTS}
    assert {"cli.py", "jobs.py", "routes.py", "organiser.py", "physician.py"} <= names
    assert DATABASE_WORK.search("async with request.app[DATABASE].session() as session:")
