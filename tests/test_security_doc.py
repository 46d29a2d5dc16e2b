"""SECURITY.md names the test behind each defence: every name it cites must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`")


def _citations(text: str) -> list[tuple[str, str | None]]:
    """(file, test) pairs; a bare ``::name`` belongs to the file cited before it in its row."""
    found: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        current: str | None = None
        for match in CITATION.finditer(line):
            path, name, bare = match.groups()
            if path is not None:
                current = path
                found.append((path, name))
            elif current is not None:
                found.append((current, bare))
    return found


def test_every_test_cited_in_security_md_exists() -> None:
    citations = _citations((ROOT / "SECURITY.md").read_text(encoding="utf-8"))

    missing = [
        f"{path}::{name}" if name else path
        for path, name in citations
        if not (ROOT / path).is_file()
        or (name and not re.search(rf"def {name}\(", (ROOT / path).read_text(encoding="utf-8")))
    ]

    assert len(citations) > 40
    assert missing == []
