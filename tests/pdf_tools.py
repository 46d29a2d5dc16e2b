"""Poppler's ``pdftotext`` and ``pdffonts`` (Debian's poppler-utils) and ZBar's ``zbarimg``
(Debian's zbar-tools): PDFs read back by readers nobody here wrote. Missing tools skip the test,
except under CI (``CI=true``), where they fail it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian: apt-get install poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _run(name: str, pdf: bytes, *args: str) -> str:
    tool = _tool(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(
            [tool, *args, str(path), *(["-"] if name == "pdftotext" else [])],
            capture_output=True,
            check=True,
            timeout=60,
        )
    return done.stdout.decode("utf-8")


def pdftotext(pdf: bytes) -> list[str]:
    """The text of every page, one item per line, as ``pdftotext -raw`` reads it (UTF-8, in the
    order it was written: the default mode's layout analysis drops the space between two CJK
    characters alone on a line, ``芳 王`` → ``芳王``)."""
    text = _run("pdftotext", pdf, "-raw", "-enc", "UTF-8")
    return [line.rstrip() for line in text.splitlines()]


def pdffonts(pdf: bytes) -> list[dict[str, str]]:
    """``pdffonts``' table: one ``{"name", "type", "emb", "sub", "uni"}`` per font used."""
    lines = _run("pdffonts", pdf).splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    columns = [len(dashes) for dashes in rule.split(" ")]
    names = ["name", "type", "encoding", "emb", "sub", "uni", "object", "id"]
    fonts: list[dict[str, str]] = []
    for row in rows:
        fields, start = [], 0
        for width in columns:
            fields.append(row[start : start + width].strip())
            start += width + 1
        fonts.append(dict(zip(names, fields, strict=False)))
    assert header.startswith("name"), header
    return fonts


def qr_codes(pdf: bytes) -> list[str]:
    """The text of every QR code on every page: the PDF rasterised by poppler's ``pdftoppm``
    (150 dpi), then read by ZBar (``zbarimg``), a reader independent of zxing-cpp, which
    encodes the codes, and by ZXing too; the two must agree."""
    return [text for page in qr_codes_by_page(pdf) for text in page]


def qr_codes_by_page(pdf: bytes) -> list[list[str]]:
    """:func:`qr_codes`, page by page."""
    import zxingcpp
    from PIL import Image

    tool = _tool("pdftoppm")
    zbar = _tool("zbarimg")  # Debian: zbar-tools
    found: list[list[str]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            [tool, "-r", "150", "-png", str(path), str(Path(folder) / "page")],
            capture_output=True,
            check=True,
            timeout=60,
        )
        for page in sorted(Path(folder).glob("page*.png")):
            with Image.open(page) as image:
                by_zxing = [
                    barcode.text
                    for barcode in zxingcpp.read_barcodes(image)
                    if barcode.format == zxingcpp.BarcodeFormat.QRCode
                ]
            done = subprocess.run(  # exit status 4: no code on this page
                [zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(page)],
                capture_output=True,
                timeout=60,
            )
            assert done.returncode in (0, 4), done.stderr
            by_zbar = done.stdout.decode("utf-8").splitlines()
            assert sorted(by_zbar) == sorted(by_zxing), (by_zbar, by_zxing)
            found.append(by_zbar)
    return found


def words(pdf: bytes) -> list[tuple[str, float, float, float]]:
    """Every word of every page with where poppler finds it: ``(text, left, right, top)`` in
    points from the page's top left corner (``pdftotext -bbox``)."""
    from html.parser import HTMLParser

    found: list[tuple[str, float, float, float]] = []

    class _Words(HTMLParser):
        box: dict[str, float] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "word":
                self.box = {name: float(value or 0) for name, value in attrs}

        def handle_data(self, data: str) -> None:
            if self.box is not None:
                found.append((data, self.box["xmin"], self.box["xmax"], self.box["ymin"]))
                self.box = None

    _Words().feed(_run("pdftotext", pdf, "-bbox", "-enc", "UTF-8"))
    return found
