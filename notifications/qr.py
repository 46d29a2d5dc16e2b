"""The verification QR code on a certificate: the ``/certificates/{code}`` URL, drawn as vector
squares (zxing-cpp encodes it; :mod:`notifications.pdf` draws the modules), so it scans at any
zoom and print size.

Error correction "M" (15 %) survives a crease or a smudge on a printed copy; the quiet zone of
four modules that readers need is left white around it.

zxing-cpp encodes in C++: it splits the URL into segments (the code's capitals and digits in
alphanumeric mode, the rest as bytes), so a certificate's URL takes a smaller symbol (33 modules
a side for the usual URL, against 37 in byte mode alone: larger modules at the same printed
size), and picks the mask by the standard's scoring, in 0.2 ms a code. segno, used before, took
1.5 ms in Python with a fixed mask, a quarter of a certificate's PDF.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import zxingcpp

#: Side of the printed code in millimetres, quiet zone included: a phone reads it at arm's length.
SIZE_MM = 32.0
QUIET_ZONE = 4
#: A run of dark modules in a row of the symbol's image (one byte a module: 0 dark, 255 light).
_DARK = re.compile(rb"\x00+")


def ascii_url(url: str) -> str:
    """``url`` as every reader reads it alike: its host in IDNA form, anything else not ASCII
    percent-encoded as UTF-8 (``https://santé.example/fmc/é`` becomes
    ``https://xn--sant-epa.example/fmc/%C3%A9``). A QR code holds bytes, not text: readers
    guess the encoding of any byte above 127 (ZBar read an ``é`` as a kanji), and a browser
    opens either form of the URL alike."""
    if url.isascii():
        return url
    import idna

    parts = urlsplit(url)
    safe = "/:@!$&'()*+,;=-._~%?#[]"
    userinfo, at, _ = parts.netloc.rpartition("@")
    host = parts.hostname or ""
    if not host.isascii():
        host = idna.encode(host, uts46=True).decode("ascii")
    elif ":" in host:  # IPv6, which urlsplit gives without its brackets
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{quote(userinfo, safe=safe)}{at}{host}{port}"
    return urlunsplit((parts.scheme, netloc, *(quote(part, safe=safe) for part in parts[2:])))


def _rows(url: str) -> list[bytes]:
    """The symbol of ``url`` row by row, one byte a module, no quiet zone."""
    symbol = zxingcpp.create_barcode(ascii_url(url), zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    side = int(image.shape[1])
    flat = bytes(image)  # type: ignore[call-overload]  # a buffer at run time; the stub omits it
    return [flat[start : start + side] for start in range(0, len(flat), side)]


def modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The dark (True) and light modules of the QR code of ``url``, row by row, no border."""
    return tuple(tuple(value == 0 for value in row) for row in _rows(url))


def dark_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of ``url`` as ``(side, runs)``: the side of the code in modules, quiet zone
    included, and each horizontal run of dark modules as ``(column, row, length)`` from the
    top left corner of the quiet zone (one rectangle a run: a smaller file than a square a
    module)."""
    rows = _rows(url)
    side = len(rows) + 1  # each row and the light byte after it: no run goes past its row
    runs = [
        (QUIET_ZONE + start % side, QUIET_ZONE + start // side, end - start)
        for start, end in (run.span() for run in _DARK.finditer(b"\xff".join(rows)))
    ]
    return len(rows) + 2 * QUIET_ZONE, runs
