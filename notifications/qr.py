"""The verification QR code on a certificate: the ``/certificates/{code}`` URL, drawn as vector
squares (segno computes the modules; fpdf2 draws them), so it scans at any zoom and print size.

Error correction "M" (15 %) survives a crease or a smudge on a printed copy; the quiet zone of
four modules that readers need is left white around it.

The mask pattern is fixed (:data:`MASK`) rather than chosen per code: any of the eight is a
valid QR code every reader decodes, and scoring all eight to pick the best one took three
milliseconds a code, three quarters of drawing it. Pattern 3 is the one the scoring picks most
often for the URLs of certificates (half of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import segno

if TYPE_CHECKING:
    from fpdf import FPDF

#: Side of the printed code in millimetres, quiet zone included: a phone reads it at arm's length.
SIZE_MM = 32.0
QUIET_ZONE = 4
MASK = 3


def modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The dark (True) and light modules of the QR code of ``url``, row by row, no border."""
    code = segno.make_qr(url, error="m", boost_error=False, mask=MASK)
    return tuple(tuple(bool(cell) for cell in row) for row in code.matrix)


def draw_qr(pdf: FPDF, url: str, *, size: float = SIZE_MM, keep_with: float = 20.0) -> None:
    """Draw the QR code of ``url`` at the left margin below the current line, then move below
    it. It starts a new page when it and the ``keep_with`` millimetres of lines that follow it
    (the code and the URL it holds) would not fit on this one: the three stay together."""
    from fpdf.enums import RenderStyle

    fill = RenderStyle.F  # as the enum: fpdf2 coerces a string for every rectangle
    rows = modules(url)
    count = len(rows) + 2 * QUIET_ZONE
    module = size / count
    if pdf.get_y() + size + keep_with > pdf.page_break_trigger:
        pdf.add_page()
    left, top = pdf.l_margin, pdf.get_y()
    pdf.set_fill_color(0, 0, 0)
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):  # one rectangle per run of dark modules: a smaller file
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            pdf.rect(
                left + (QUIET_ZONE + start) * module,
                top + (QUIET_ZONE + y) * module,
                (x - start) * module,
                module,
                style=fill,
            )
    pdf.set_y(top + size + 2)
