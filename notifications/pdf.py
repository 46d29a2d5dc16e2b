"""Certificates and statements as PDF (ReportLab), in Unicode fonts embedded as subsets, so
that a name prints as it is written and the file can be archived and read anywhere.

Fonts come from PyPI packages, found through :mod:`importlib.resources` (any working
directory, any install):

- Open Sans 1.10, Regular and Bold (``ttf-opensans``, Apache 2.0): Latin with its extensions
  and Vietnamese, Greek, Cyrillic;
- then WenQuanYi Micro Hei (``paperang-p2-fonts-cjk``, the very file Debian ships as
  ``fonts-wqy-microhei``, Apache 2.0 / GPLv3 with font exception): Chinese, Japanese kana,
  Korean Hangul, for what Open Sans lacks (no bold of its own: bold text falls back to it too).

A character neither font has is written as its base letters (NFKD) when those print, else ``?``
(a PDF never shows an empty box).

Each font is read once per process and registered with ReportLab, which embeds in every
document only the glyphs that document uses (copied from the font read at start, not
recomputed). Open Sans is registered without what a PDF never uses (hinting, which PDF viewers
ignore; the layout tables, text not being shaped), which keeps each certificate small; the CJK
font is read only once a document needs it. fpdf2, which this module used before, parsed and
subset both fonts anew in every document: two thirds of a certificate's cost.

Text is set left-aligned (ragged right), each field on as many lines as it needs between the
margins: a field that fits is one line; a longer one breaks between words (a word longer than
a line, or a run of CJK text, between characters), and the lines of the paragraphs every
certificate of a session repeats are broken once per process and reused (:class:`_Writer`).
"""

from __future__ import annotations

import functools
import io
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.qr import SIZE_MM as QR_SIZE
from notifications.qr import dark_runs
from notifications.text import header_text

if TYPE_CHECKING:  # ReportLab and fontTools load when a document is made, not with the service
    from reportlab.pdfgen.canvas import Canvas

FAMILY = "OpenSans"
BOLD = "OpenSans-Bold"
FALLBACK = "WenQuanYiMicroHei"
_files = ExitStack()  # keeps font files extracted from a zipped install alive for the process

#: The page, in millimetres: A4, margins of 20 mm (18 mm at the bottom, where a page breaks);
#: text starts 1 mm inside the margins, as a table cell's would.
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
MARGIN, BOTTOM, PADDING = 20.0, 18.0, 1.0
_POINTS = 72 / 25.4  # points in a millimetre


def _resource(package: str, *parts: str) -> Path:
    return _files.enter_context(resources.as_file(resources.files(package).joinpath(*parts)))


@functools.cache
def font_files() -> dict[str, Path]:
    """``{"": regular, "B": bold, "fallback": CJK collection}``."""
    return {
        "": _resource("ttf_opensans", "ttf", "OpenSans-Regular.ttf"),
        "B": _resource("ttf_opensans", "ttf", "OpenSans-Bold.ttf"),
        "fallback": _resource("paperang_p2_fonts_cjk", "fonts", "wqy-microhei.ttc"),
    }


#: Tables the registered Open Sans leaves out: hinting (PDF viewers rasterise without it) and
#: layout (text is not shaped, so nothing reads them).
_UNUSED_TABLES = ["GSUB", "GPOS", "GDEF", "kern", "hdmx", "gasp", "VDMX", "LTSH", "DSIG", "FFTM"]


def _cut(source: Path, code_points: Iterable[int], target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options(
        hinting=False, notdef_outline=True, recommended_glyphs=True, layout_features=[]
    )
    options.drop_tables += _UNUSED_TABLES
    with TTFont(source) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[c for c in font.getBestCmap() if c in code_points])
        subsetter.subset(font)
        font.save(target)


@functools.cache
def prepared_fonts() -> dict[str, Path]:
    """``{"": regular, "B": bold}``: Open Sans as documents embed it (every character both
    styles draw, no hinting, no layout tables), cut once per process from :func:`font_files`
    into a folder kept for the process."""
    import tempfile

    folder = Path(_files.enter_context(tempfile.TemporaryDirectory(prefix="fonts-")))
    main, _ = _coverage()
    files = font_files()
    prepared = {style: folder / f"OpenSans{style}.ttf" for style in ("", "B")}
    for style, target in prepared.items():
        _cut(files[style], main, target)
    return prepared


@functools.cache
def load_fonts() -> None:
    """Open Sans, which every document uses, cut and registered with ReportLab, once per process
    (the first document calls it; a caller may call it earlier, so that no document pays for
    it): a document embeds the glyphs it uses and no others (``asciiReadable`` would embed all
    of ASCII in every one). Streams are compressed only, not also written in ASCII85 (a quarter
    larger, for 7-bit transports PDFs no longer travel on: an email's attachment is base64)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    rl_config.useA85 = 0
    fonts = prepared_fonts()
    pdfmetrics.registerFont(TTFont(FAMILY, str(fonts[""]), asciiReadable=False))
    pdfmetrics.registerFont(TTFont(BOLD, str(fonts["B"]), asciiReadable=False))


@functools.cache
def _cjk() -> None:
    """The CJK fallback registered with ReportLab, the first time a document needs it."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = str(font_files()["fallback"])
    pdfmetrics.registerFont(TTFont(FALLBACK, path, subfontIndex=0, asciiReadable=False))


def _code_points(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=0, lazy=True) as font:
        return set(font.getBestCmap())


@functools.cache
def _coverage() -> tuple[frozenset[int], frozenset[int]]:
    """The code points Open Sans draws (in both styles), and those only the fallback draws."""
    files = font_files()
    regular, bold, fallback = (_code_points(files[style]) for style in ("", "B", "fallback"))
    main = frozenset(regular & bold)
    return main, frozenset(fallback - main)


@functools.cache
def _drawn() -> frozenset[str]:
    """Every character one of the fonts draws."""
    main, fallback = _coverage()
    return frozenset(map(chr, main | fallback))


def printable(text: str) -> str:
    """``text`` on one line (line breaks become spaces, control characters go: each call prints
    one field), composed (NFC: a name typed on a Mac, ``c`` then a combining cedilla, prints as
    ``ç``, which the fonts draw), every character no font can draw replaced by its base
    letters, or ``?``; a combining accent no font draws is left out (the letter prints bare)."""
    text = unicodedata.normalize("NFC", header_text(text))
    drawn = _drawn()
    missing = set(text) - drawn
    if not missing:
        return text
    out: list[str] = []
    for char in text:
        if char not in missing:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if c in drawn)
        out.append(base if base.strip() or unicodedata.combining(char) else "?")
    return "".join(out)


def _needs_fallback(texts: Iterable[str]) -> bool:
    """Whether ``texts`` hold a character only the CJK fallback draws."""
    _, fallback = _coverage()
    return any(not fallback.isdisjoint(map(ord, text)) for text in texts)


@dataclass(frozen=True)
class CertificateSection:
    """One accreditation regime's fields (AMA/ACCME, French DPC, an Indian council...): a
    heading, ``label: value`` lines, then statements as paragraphs."""

    heading: str
    lines: tuple[str, ...] = ()
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CertificateData:
    """What a certificate prints, every line already worded in its ``language``."""

    language: str
    title: str
    provider: str
    physician_name: str
    identifiers: tuple[str, ...]
    series_title: str
    session_text: str
    activity: str
    location: str
    attendance: str
    credits_title: str
    credits: tuple[str, ...]
    statement: str
    accreditation: str
    signatory_name: str
    signatory_title: str
    code_line: str
    verify_url: str
    issued_text: str
    #: The fields of each regime the award carries (issue 11 point 6), after the credits.
    sections: tuple[CertificateSection, ...] = ()


@dataclass(frozen=True)
class StatementData:
    """What a monthly statement prints, every line already worded in its ``language``."""

    language: str
    title: str
    provider: str
    physician_name: str
    totals_title: str
    totals: tuple[str, ...]
    requirements_title: str
    requirements: tuple[str, ...]
    sessions_title: str
    sessions: tuple[str, ...] = field(default_factory=tuple)


def _texts(data: CertificateData | StatementData | CertificateSection) -> Iterator[str]:
    for value in vars(data).values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, CertificateSection):
                    yield from _texts(item)


#: Lines of the fields already broken, by text, font, size and fallback
#: (:meth:`_Writer.lines`): the statements and accreditation paragraphs of a session's
#: certificates are the same in every one of them.
_BROKEN: dict[tuple[object, ...], tuple[str, ...]] = {}
_BROKEN_KEPT = 512


class _Writer:
    """A document being written: its fields one after the other from the top of the first page,
    left-aligned, each on as many lines as it needs between the margins, a new page where the
    next line would pass the bottom margin. Positions are in millimetres from the page's top."""

    @classmethod
    def of(cls, data: CertificateData | StatementData) -> _Writer:
        """A new document for ``data``, titled with its title and the physician's name, by its
        provider, with the CJK fallback when its texts need it."""
        title = f"{data.title} - {data.physician_name}"
        return cls(data.language, title, data.provider, fallback=_needs_fallback(_texts(data)))

    def __init__(self, language: str, title: str, author: str, *, fallback: bool) -> None:
        from reportlab.pdfgen.canvas import Canvas

        load_fonts()
        if fallback:
            _cjk()
        self.fallback = fallback  # the CJK fallback is in use: runs of text per font
        self.out = io.BytesIO()
        size = (PAGE_WIDTH * _POINTS, PAGE_HEIGHT * _POINTS)
        self.canvas: Canvas = Canvas(
            self.out,
            pagesize=size,
            pageCompression=1,
            lang=language,
            initialFontName=FAMILY,  # else every page would name Helvetica, unembedded
            initialFontSize=11,
        )
        title, author = printable(title), printable(author)
        self.canvas.setTitle(title)
        self.canvas.setAuthor(author)
        self.canvas.setSubject(title)
        self.canvas.setCreator(author)
        self.y = MARGIN
        self.width = (PAGE_WIDTH - 2 * MARGIN - 2 * PADDING) * _POINTS

    def runs(self, text: str, font: str) -> list[tuple[str, str]]:
        """``text`` as ``(font, characters)`` runs: Open Sans, and the CJK fallback (which has
        no bold) for the characters only it draws."""
        if not self.fallback:
            return [(font, text)]
        _, cjk = _coverage()
        runs: list[tuple[str, str]] = []
        for char in text:
            wanted = FALLBACK if ord(char) in cjk else font
            if runs and runs[-1][0] == wanted:
                runs[-1] = (wanted, runs[-1][1] + char)
            else:
                runs.append((wanted, char))
        return runs

    def measure(self, text: str, font: str, size: float) -> float:
        """The width of ``text`` in points."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return sum(float(stringWidth(chars, name, size)) for name, chars in self.runs(text, font))

    def lines(self, text: str, font: str, size: float) -> Sequence[str]:
        """``text`` (one printable field) broken into the lines that fit between the margins:
        a field that fits (a name, a date) is one line; a longer one breaks between words, a
        word longer than a line between characters, and is remembered for the process."""
        if self.measure(text, font, size) <= self.width:
            return (text,)
        key = (text, font, size, self.fallback)
        found = _BROKEN.get(key)
        if found is None:
            found = self._broken(text, font, size)
            if len(_BROKEN) >= _BROKEN_KEPT:
                _BROKEN.clear()
            _BROKEN[key] = found
        return found

    def _broken(self, text: str, font: str, size: float) -> tuple[str, ...]:
        lines: list[str] = []
        current, used = "", 0.0
        space = self.measure(" ", font, size)
        for word in text.split():
            wide = self.measure(word, font, size)
            if current and used + space + wide <= self.width:
                current, used = f"{current} {word}", used + space + wide
                continue
            if current:
                lines.append(current)
            while wide > self.width:  # a word wider than a line: as many characters as fit
                cut = self._fitting(word, font, size)
                lines.append(word[:cut])
                word = word[cut:]
                wide = self.measure(word, font, size)
            current, used = word, wide
        if current:
            lines.append(current)
        return tuple(lines)

    def _fitting(self, word: str, font: str, size: float) -> int:
        """How many of ``word``'s first characters fit on a line (one at least)."""
        fits = 1
        for count in range(2, len(word)):
            if self.measure(word[:count], font, size) > self.width:
                break
            fits = count
        return fits

    def ln(self, gap: float) -> None:
        self.y += gap

    def room(self, height: float) -> None:
        """A new page unless ``height`` millimetres still fit above the bottom margin."""
        if self.y + height > PAGE_HEIGHT - BOTTOM:
            self.canvas.showPage()
            self.y = MARGIN

    def line(
        self,
        text: str,
        *,
        size: float = 11,
        bold: bool = False,
        gap: float = 2,
        leading: float = 0.5,
    ) -> None:
        """A field in ``size`` points, each of its lines ``size * leading`` millimetres high,
        then ``gap`` millimetres."""
        font = BOLD if bold else FAMILY
        height = size * leading
        canvas = self.canvas
        for line in self.lines(printable(text), font, size):
            self.room(height)
            # the baseline where a cell of this height would put it: centred, then 0.3 em lower
            baseline = (PAGE_HEIGHT - self.y - height / 2 - 0.3 * size / _POINTS) * _POINTS
            words = canvas.beginText((MARGIN + PADDING) * _POINTS, baseline)
            for name, chars in self.runs(line, font):
                words.setFont(name, size)
                words.textOut(chars)
            canvas.drawText(words)
            self.y += height
        self.ln(gap)

    def paragraphs(self, text: str, *, size: float = 10, gap: float = 4) -> None:
        for paragraph in text.splitlines():
            if paragraph.strip():
                self.line(paragraph, size=size, gap=gap / 2)
        self.ln(gap / 2)

    def sections(self, sections: tuple[CertificateSection, ...]) -> None:
        """Each regime's heading, fields and statements, a little smaller than the rest."""
        for section in sections:
            self.line(section.heading, size=10, bold=True, gap=0.5)
            for line in section.lines:
                self.line(line, size=9, gap=0, leading=0.45)
            self.ln(1)
            for paragraph in section.paragraphs:
                self.line(paragraph, size=8, gap=0.8, leading=0.45)
            self.ln(1.5)

    def qr(self, url: str, *, size: float, keep_with: float) -> None:
        """The QR code of ``url``, ``size`` millimetres wide quiet zone included, at the left
        margin below the current line, as vector squares (one path: it scans at any zoom). It
        starts a new page when it and the ``keep_with`` millimetres of lines that follow it (the
        code and the URL it holds) would not fit on this one: the three stay together."""
        count, runs = dark_runs(url)
        module = size / count * _POINTS
        self.room(size + keep_with)
        left, top = MARGIN * _POINTS, (PAGE_HEIGHT - self.y) * _POINTS
        canvas = self.canvas
        canvas.saveState()
        canvas.setFillColorRGB(0, 0, 0)
        # in module units from the code's top left corner: each run's rectangle is four small
        # integers, where page coordinates would format four decimals per rectangle
        canvas.transform(module, 0, 0, -module, left, top)
        canvas.addLiteral("\n".join(f"{x} {y} {length} 1 re" for x, y, length in runs) + "\nf")
        canvas.restoreState()
        self.y += size + 2

    def close(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self.out.getvalue()


def certificate_pdf(data: CertificateData) -> bytes:
    out = _Writer.of(data)
    out.line(data.provider, size=12, bold=True, gap=4)
    out.line(data.title, size=20, bold=True, gap=5)
    out.line(data.physician_name, size=16, bold=True)
    if data.identifiers:
        out.line(" · ".join(data.identifiers), size=10, gap=4)
    out.line(data.series_title, size=13, bold=True)
    out.line(data.session_text)
    out.line(data.activity)
    out.line(data.location, gap=4)
    out.line(data.attendance, gap=4)
    if data.credits:  # those of no regime (each regime's section states its own)
        out.line(data.credits_title, bold=True)
    for line in data.credits:
        out.line(line, bold=True)
    out.ln(4)
    out.sections(data.sections)
    out.paragraphs(data.statement)
    out.paragraphs(data.accreditation, gap=5)
    if data.signatory_name:
        out.line(data.signatory_name, bold=True, gap=1)
        if data.signatory_title:
            out.line(data.signatory_title, size=10)
        out.ln(4)
    out.qr(data.verify_url, size=QR_SIZE, keep_with=20.0)
    out.line(data.code_line, size=10)
    out.line(data.verify_url, size=10)
    out.line(data.issued_text, size=9)
    return out.close()


def statement_pdf(data: StatementData) -> bytes:
    out = _Writer.of(data)
    out.line(data.provider, size=12, bold=True, gap=4)
    out.line(data.title, size=18, bold=True, gap=6)
    out.line(data.physician_name, size=14, bold=True, gap=6)
    out.line(data.totals_title, size=12, bold=True)
    for line in data.totals:
        out.line(line)
    if data.requirements:
        out.ln(3)
        out.line(data.requirements_title, size=12, bold=True)
        for line in data.requirements:
            out.line(line)
    if data.sessions:
        out.ln(3)
        out.line(data.sessions_title, size=12, bold=True)
        for line in data.sessions:
            out.line(line, size=10, gap=1)
    return out.close()
