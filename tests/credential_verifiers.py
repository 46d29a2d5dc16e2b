"""A VC-JWT verified by panva's ``jose`` in Node (``tests/js/verify_vc_jwt.mjs``), a JOSE
implementation that shares nothing with joserfc, which signs. Outside CI a missing Node or
``tests/js/node_modules`` skips the test with the reason; under ``CI=true`` it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.calendar_readers import IN_CI, JS_DIR


def verify_with_jose(token: str, did_document: dict[str, Any]) -> dict[str, Any]:
    """``{"verified": True, "payload": {...}}`` or ``{"verified": False, "error": code}``."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "jose").is_dir():
        reason = "Node.js or tests/js/node_modules/jose missing: run `npm ci --prefix tests/js`"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(
        [node, str(JS_DIR / "verify_vc_jwt.mjs")],
        input=json.dumps({"jwt": token, "didDocument": did_document}).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
