"""The verification QR code on a certificate: the ``/certificates/{code}`` URL, drawn as vector
squares (segno computes the modules; :mod:`notifications.pdf` draws them), so it scans at any
zoom and print size.

Error correction "M" (15 %) survives a crease or a smudge on a printed copy; the quiet zone of
four modules that readers need is left white around it.

The mask pattern is fixed (:data:`MASK`) rather than chosen per code: any of the eight is a
valid QR code every reader decodes, and scoring all eight to pick the best one took three
milliseconds a code, three quarters of drawing it. Pattern 3 is the one the scoring picks most
often for the URLs of certificates (half of them).
"""

from __future__ import annotations

import re

import segno

#: Side of the printed code in millimetres, quiet zone included: a phone reads it at arm's length.
SIZE_MM = 32.0
QUIET_ZONE = 4
MASK = 3


#: A run of dark modules in a row of segno's matrix (a ``bytearray``: 1 dark, 0 light).
_DARK = re.compile(rb"\x01+")


def _matrix(url: str) -> tuple[bytearray, ...]:
    return segno.make_qr(url, error="m", boost_error=False, mask=MASK).matrix


def modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The dark (True) and light modules of the QR code of ``url``, row by row, no border."""
    return tuple(tuple(bool(cell) for cell in row) for row in _matrix(url))


def dark_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of ``url`` as ``(side, runs)``: the side of the code in modules, quiet zone
    included, and each horizontal run of dark modules as ``(column, row, length)`` from the
    top left corner of the quiet zone (one rectangle a run: a smaller file than a square a
    module)."""
    rows = _matrix(url)
    runs = [
        (QUIET_ZONE + run.start(), QUIET_ZONE + y, run.end() - run.start())
        for y, row in enumerate(rows)
        for run in _DARK.finditer(row)
    ]
    return len(rows) + 2 * QUIET_ZONE, runs
