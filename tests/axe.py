"""axe-core (Deque's accessibility engine, from tests/js/node_modules) run in a Playwright page.

The engine is evaluated through the DevTools protocol, so the pages' Content-Security-Policy
(``script-src 'self'``) does not stop it and the pages stay as served.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
#: The impacts a page must not have (axe's own scale: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")


@functools.cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def require_axe() -> None:
    """Skip without axe-core (``npm ci --prefix tests/js``), except under CI where it must be."""
    if not AXE.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"axe-core is required under CI=true ({AXE} is missing)")
        pytest.skip(f"no axe-core at {AXE}: run npm ci --prefix tests/js")


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = BLOCKING) -> list[str]:
    """The page's axe-core violations of ``impacts`` (WCAG 2.x A and AA rules and best
    practices), one line each: rule, impact, and the first offending elements."""
    require_axe()
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(_source())
    result: dict[str, Any] = await page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
            resultTypes: ["violations"],
        })"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} – "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
