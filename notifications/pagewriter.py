"""A one-page PDF of left-aligned text lines, written directly, with fonts prepared once per
process: the fast path of certificates (tens of thousands per session, SPEC 5).

fpdf2 parses each font again for every document and subsets it with fontTools when it writes
the file (most of its 50-150 ms per certificate). Here each font is reduced once per process to
the characters of Western and Central European writing (Latin-1, Latin Extended-A and -B,
punctuation, currency and letter-like symbols), without hinting, and its glyphs kept as raw
bytes; a document then embeds a subset made by copying the bytes of the glyphs it uses into a
font that keeps every glyph id (the others empty), so that character ids are glyph ids
(``Identity-H``, ``CIDToGIDMap /Identity``) and nothing is parsed or compiled per document.
Every font is embedded, with a ``ToUnicode`` map so that text extracts as written.

A document holding a character outside that set (Greek, Cyrillic, Vietnamese, CJK), or too long
for one page, is not written here (:func:`write_page` returns ``None``) and goes to fpdf2.
"""

from __future__ import annotations

import functools
import io
import itertools
import struct
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Characters of the reduced fonts (those Open Sans has of these ranges).
RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x214F))
#: A4 in millimetres; margins, the cell padding and line heights as ``notifications.pdf``'s
#: fpdf2 layout has them, so that both paths print the same page.
WIDTH, HEIGHT = 210.0, 297.0
MARGIN, BOTTOM, PADDING = 20.0, 18.0, 1.0
_K = 72 / 25.4  # points per millimetre


@dataclass(frozen=True)
class Line:
    """One paragraph to print: wrapped to the text width, ``size`` points, then ``gap`` mm."""

    text: str
    size: float = 11
    bold: bool = False
    gap: float = 2


@dataclass(eq=False)
class _Font:
    """One face reduced once per process: its metrics, raw glyphs and fixed tables."""

    name: str
    cmap: dict[int, int]  # code point -> glyph id
    advances: list[int]  # per glyph id, in 1/1000 of the size (as PDF widths are)
    glyphs: list[bytes]  # raw 'glyf' data per glyph id, padded to four bytes
    components: list[tuple[int, ...]]  # glyph ids a composite glyph draws (closure)
    tables: dict[str, bytes]  # the tables copied as they are
    descriptor: str  # the /FontDescriptor entries but /FontFile2
    unicode: dict[int, int]  # glyph id -> the lowest code point drawn with it (space, not NBSP)

    def width(self, text: str, size: float) -> float:
        """The width of ``text`` in millimetres at ``size`` points."""
        advances, cmap = self.advances, self.cmap
        return sum(advances[cmap[ord(c)]] for c in text) * size / 1000 / _K


def _closure(font: Any, glyph_order: list[str]) -> list[tuple[int, ...]]:
    """Per glyph id, every glyph a composite glyph draws (its components, theirs...)."""
    glyf = font["glyf"]
    ids = {name: gid for gid, name in enumerate(glyph_order)}
    direct = []
    for name in glyph_order:
        glyph = glyf[name]
        direct.append(
            tuple(ids[c] for c in glyph.getComponentNames(glyf)) if glyph.isComposite() else ()
        )

    def deep(gid: int) -> tuple[int, ...]:
        out: list[int] = []
        for child in direct[gid]:
            out += [child, *deep(child)]
        return tuple(out)

    return [deep(gid) for gid in range(len(glyph_order))]


def _reduce(path: Path) -> _Font:
    """``path``'s font cut down to :data:`RANGES`, without hinting, read back as raw parts."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as full:
        wanted = [u for a, b in RANGES for u in range(a, b + 1) if u in full.getBestCmap()]
        options = subset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False)
        options.layout_features = []
        options.drop_tables += ["GDEF", "GPOS", "GSUB", "DSIG", "kern", "hdmx", "FFTM", "meta"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=wanted)
        subsetter.subset(full)
        buffer = io.BytesIO()
        full.save(buffer)
    font = TTFont(io.BytesIO(buffer.getvalue()))
    order = font.getGlyphOrder()
    head, hhea, os2, post = font["head"], font["hhea"], font["OS/2"], font["post"]
    scale = 1000 / head.unitsPerEm
    loca = list(font["loca"])
    glyf_data = font.getTableData("glyf")
    glyphs = [glyf_data[loca[i] : loca[i + 1]] for i in range(len(order))]
    glyphs = [data + b"\0" * (-len(data) % 4) for data in glyphs]
    metrics = font["hmtx"].metrics
    advances = [round(scale * metrics[name][0] + 0.001) for name in order]
    cmap = {u: font.getGlyphID(name) for u, name in font.getBestCmap().items()}
    name = "".join(c for c in font["name"].getBestFullName() if c not in " ()")
    head.indexToLocFormat = 1  # long offsets: each document writes its own 'loca'
    head.checkSumAdjustment = 0
    tables = {
        tag: font.getTableData(tag) if tag != "head" else head.compile(font)
        for tag in ("cmap", "head", "hhea", "hmtx", "maxp", "name", "OS/2", "post")
        if tag in font
    }
    flags = 4 | (0 if not post.isFixedPitch else 1) | (262144 if os2.usWeightClass >= 600 else 0)
    cap = getattr(os2, "sCapHeight", hhea.ascent)
    descriptor = (
        f"/Type /FontDescriptor /FontName /{{prefix}}+{name} /Flags {flags} "
        f"/FontBBox [{head.xMin * scale:.0f} {head.yMin * scale:.0f} "
        f"{head.xMax * scale:.0f} {head.yMax * scale:.0f}] /ItalicAngle {int(post.italicAngle)} "
        f"/Ascent {round(hhea.ascent * scale)} /Descent {round(hhea.descent * scale)} "
        f"/CapHeight {round(cap * scale)} /StemV {round(50 + int(pow(os2.usWeightClass / 65, 2)))} "
        f"/MissingWidth {advances[0]}"
    )
    unicode: dict[int, int] = {}
    for code, gid in sorted(cmap.items(), reverse=True):
        unicode[gid] = code
    return _Font(name, cmap, advances, glyphs, _closure(font, order), tables, descriptor, unicode)


@functools.cache
def fonts(regular: Path, bold: Path) -> tuple[_Font, _Font, frozenset[str]]:
    """Both faces, reduced (once per process), and the characters both draw."""
    faces = _reduce(regular), _reduce(bold)
    return faces[0], faces[1], frozenset(map(chr, faces[0].cmap.keys() & faces[1].cmap.keys()))


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _font_file(font: _Font, used: set[int]) -> bytes:
    """A TrueType font holding the glyphs ``used`` (and their components), every other glyph
    id empty: glyph ids stay those of the reduced font."""
    keep = set(used) | {0}
    for gid in list(keep):
        keep.update(font.components[gid])
    parts = [data if gid in keep else b"" for gid, data in enumerate(font.glyphs)]
    offsets = array("I", [0, *itertools.accumulate(len(part) for part in parts)])
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        offsets.byteswap()
    tables = dict(font.tables, glyf=b"".join(parts), loca=offsets.tobytes())
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, (count - power) * 16
    )
    directory, body = [], []
    offset = 12 + 16 * count
    for tag in tags:
        data = tables[tag]
        directory.append(
            struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data))
        )
        padded = data + b"\0" * (-len(data) % 4)
        body.append(padded)
        offset += len(padded)
    font_bytes = bytearray(header + b"".join(directory) + b"".join(body))
    adjustment = (0xB1B0AFBA - _checksum(bytes(font_bytes))) & 0xFFFFFFFF
    head_at = 12 + 16 * count + sum(len(b) for b in body[: tags.index("head")])
    font_bytes[head_at + 8 : head_at + 12] = struct.pack(">I", adjustment)
    return bytes(font_bytes)


@functools.lru_cache(maxsize=4096)
def _wrap(font: _Font, text: str, size: float, width: float) -> tuple[str, ...]:
    """``text`` in lines no wider than ``width`` mm, broken at spaces (a word longer than a
    line, at a character), as fpdf2's ``multi_cell`` breaks them. Cached: a session's
    certificates share most of their paragraphs."""
    lines: list[str] = []
    line, used = "", 0.0
    space = font.width(" ", size)
    for word in text.split(" "):
        needed = font.width(word, size)
        if line and used + space + needed <= width:
            line, used = f"{line} {word}", used + space + needed
            continue
        if not line and needed <= width:
            line, used = word, needed
            continue
        if line:
            lines.append(line)
        line, used = "", 0.0
        for char in word:
            step = font.width(char, size)
            if line and used + step > width:
                lines.append(line)
                line, used = "", 0.0
            line, used = line + char, used + step
    lines.append(line)
    return tuple(lines)


@functools.lru_cache(maxsize=8192)
def _hex(font: _Font, text: str) -> str:
    """``text`` as the hex string of its glyph ids (cached: most lines recur)."""
    cmap = font.cmap
    return "".join(f"{cmap[ord(c)]:04X}" for c in text)


def _pdf_text(value: str) -> str:
    """A PDF text string (UTF-16BE with its byte order mark, in hex)."""
    return "<FEFF" + value.encode("utf-16-be").hex().upper() + ">"


def _to_unicode(font: _Font, used: set[int]) -> bytes:
    reverse = {gid: font.unicode[gid] for gid in used if gid in font.unicode}
    entries = sorted(reverse.items())
    chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
    ranges = "".join(
        f"{len(chunk)} beginbfchar\n"
        + "".join(
            f"<{gid:04X}> <{chr(code).encode('utf-16-be').hex().upper()}>\n" for gid, code in chunk
        )
        + "endbfchar\n"
        for chunk in chunks
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{ranges}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode("ascii")


def _prefix(used: set[int], tag: str) -> str:
    """The six capital letters a subset font's name starts with, derived from its glyphs."""
    value = zlib.crc32(repr((tag, sorted(used))).encode("ascii"))
    return "".join(chr(65 + (value >> (5 * i)) % 26) for i in range(6))


def write_page(
    lines: Sequence[Line],
    *,
    regular: _Font,
    bold: _Font,
    language: str,
    title: str,
    author: str,
    now: datetime | None = None,
) -> bytes | None:
    """The PDF of ``lines`` on one A4 page, or ``None`` when they do not fit on one."""
    faces = (regular, bold)
    used: tuple[set[int], set[int]] = (set(), set())
    ops: list[str] = []
    y = MARGIN
    limit = WIDTH - 2 * MARGIN - 2 * PADDING
    for line in lines:
        face = 1 if line.bold else 0
        font = faces[face]
        height = line.size * 0.5
        font_mm = line.size / _K
        wrapped = list(_wrap(font, line.text, line.size, limit))
        for number, text in enumerate(wrapped, start=1):
            if y + height > HEIGHT - BOTTOM:
                return None
            gids = [font.cmap[ord(c)] for c in text]
            used[face].update(gids)
            baseline = (HEIGHT - y - 0.5 * height - 0.3 * font_mm) * _K
            words = text.split(" ")
            if number < len(wrapped) and len(words) > 1:  # justified, as fpdf2's multi_cell
                extra = (limit - font.width(text, line.size)) / (len(words) - 1)
                shift = f" {-extra * _K * 1000 / line.size:.2f} "
                shown = "[" + shift.join(f"<{_hex(font, w + ' ')}>" for w in words[:-1])
                shown += f"{shift}<{_hex(font, words[-1])}>] TJ"
            else:
                shown = f"<{_hex(font, text)}> Tj"
            ops.append(
                f"BT /F{face + 1} {line.size:.2f} Tf {(MARGIN + PADDING) * _K:.2f} {baseline:.2f} Td "
                f"{shown} ET"
            )
            y += height
        y += line.gap
    objects: list[bytes] = []

    def add(body: bytes | str) -> int:
        objects.append(body.encode("latin-1") if isinstance(body, str) else body)
        return len(objects)

    def stream(data: bytes, extra: str = "") -> int:
        packed = zlib.compress(data, 6)
        return add(
            f"<< /Filter /FlateDecode /Length {len(packed)}{extra} >>\nstream\n".encode("latin-1")
            + packed
            + b"\nendstream"
        )

    font_refs = []
    for face, font in enumerate(faces):
        if not used[face]:
            continue
        prefix = _prefix(used[face], font.name)
        program = _font_file(font, used[face])
        file_ref = stream(program, f" /Length1 {len(program)}")
        descriptor = add(
            "<< " + font.descriptor.replace("{prefix}", prefix) + f" /FontFile2 {file_ref} 0 R >>"
        )
        widths = " ".join(f"{gid} [{font.advances[gid]}]" for gid in sorted(used[face]))
        cid = add(
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{prefix}+{font.name} "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {descriptor} 0 R /DW {font.advances[0]} /W [{widths}] "
            "/CIDToGIDMap /Identity >>"
        )
        cmap = stream(_to_unicode(font, used[face]))
        font_refs.append(
            f"/F{face + 1} "
            + str(
                add(
                    f"<< /Type /Font /Subtype /Type0 /BaseFont /{prefix}+{font.name} "
                    f"/Encoding /Identity-H /DescendantFonts [{cid} 0 R] /ToUnicode {cmap} 0 R >>"
                )
            )
            + " 0 R"
        )
    contents = stream("\n".join(ops).encode("ascii"))
    pages = len(objects) + 2
    page = add(
        f"<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 {WIDTH * _K:.2f} {HEIGHT * _K:.2f}] "
        f"/Resources << /Font << {' '.join(font_refs)} >> >> /Contents {contents} 0 R >>"
    )
    add(f"<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")
    info = add(
        f"<< /Title {_pdf_text(title)} /Author {_pdf_text(author)} "
        f"/Producer (cme-tracker) /CreationDate ({stamp}) >>"
    )
    catalog = add(f"<< /Type /Catalog /Pages {pages} 0 R /Lang {_pdf_text(language)} >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode("ascii")
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)
