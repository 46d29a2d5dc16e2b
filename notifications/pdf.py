"""Certificates and statements as PDF (fpdf2), in Unicode fonts embedded as subsets, so that a
name prints as it is written and the file can be archived and read anywhere.

Fonts come from PyPI packages, found through :mod:`importlib.resources` (any working
directory, any install):

- Open Sans 1.10, Regular and Bold (``ttf-opensans``, Apache 2.0): Latin with its extensions
  and Vietnamese, Greek, Cyrillic;
- then WenQuanYi Micro Hei (``paperang-p2-fonts-cjk``, the very file Debian ships as
  ``fonts-wqy-microhei``, Apache 2.0 / GPLv3 with font exception): Chinese, Japanese kana,
  Korean Hangul, for what Open Sans lacks (fpdf2's fallback fonts; no bold of its own).

A character neither font has is written as its base letters (NFKD) when those print, else ``?``
(a PDF never shows an empty box, and fpdf2 never warns of a missing glyph).

fpdf2 loads and subsets the fonts of every document anew (fontTools; nothing is shared between
documents), so what it loads is prepared once per process (:func:`prepared_fonts`): Open Sans
without what a PDF of ours never uses (hinting, which PDF viewers ignore; the layout tables,
which fpdf2 drops when it subsets, text shaping being off), in two cuts: every character Open
Sans draws, and a small cut of the Latin most documents need (ASCII, Latin-1, Latin Extended-A,
punctuation), used when a document holds nothing else. A document costs a third less with the
small cut, its file a third less with either. fpdf2 is told not to recompute the bounding box of
every glyph it writes (the prepared fonts' own are exact). The CJK font (about a second) is
loaded only for a document that holds a character only it has.

Text is set left-aligned (ragged right), each field on as many lines as it needs: a field that
fits is written as one cell, and the lines of a longer one (the statements every certificate of
a session repeats) are broken by fpdf2 once per process and reused (:class:`_Writer`).
Justified paragraphs cannot be reused that way through fpdf2's public interface, and breaking
them anew was half of every certificate's cost.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.qr import draw_qr
from notifications.text import header_text

if TYPE_CHECKING:  # fpdf2 and fontTools load when a document is made, not with the service
    from fpdf import FPDF

FAMILY = "OpenSans"
FALLBACK = "WenQuanYiMicroHei"
_files = ExitStack()  # keeps font files extracted from a zipped install alive for the process


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


#: The cuts of Open Sans a document may load, smallest first (the first that draws every
#: character of a document is the one it loads): Western European (ASCII, Latin-1, general
#: punctuation, the euro and trade mark signs), then Central European too (Latin Extended-A),
#: then every character Open Sans draws (Latin, Vietnamese, Greek, Cyrillic).
_WESTERN = frozenset(
    [*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x2000, 0x2070), 0x20AC, 0x2122]
)
CUTS: tuple[frozenset[int] | None, ...] = (
    _WESTERN,
    _WESTERN | frozenset(range(0x100, 0x180)),
    None,
)
#: Tables a prepared font leaves out: hinting (PDF viewers rasterise without it) and layout
#: (fpdf2 drops them when it subsets; without text shaping it never reads them).
_UNUSED_TABLES = ["GSUB", "GPOS", "GDEF", "kern", "hdmx", "gasp", "VDMX", "LTSH", "DSIG", "FFTM"]


def _cut(source: Path, code_points: Iterable[int], target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options(
        hinting=False, notdef_outline=True, recommended_glyphs=True, layout_features=[]
    )
    options.glyph_names = True  # a font without them costs fontTools a cmap walk to name glyphs
    options.drop_tables += _UNUSED_TABLES
    with TTFont(source) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[c for c in font.getBestCmap() if c in code_points])
        subsetter.subset(font)
        font.save(target)


@functools.cache
def prepared_fonts() -> tuple[dict[str, Path], ...]:
    """The fonts documents load, one ``{"": regular, "B": bold}`` per cut in :data:`CUTS`, cut
    once per process from :func:`font_files` into a folder kept for the process."""
    import tempfile

    import fpdf  # noqa: F401 - loaded here, once, rather than by the first document

    folder = Path(_files.enter_context(tempfile.TemporaryDirectory(prefix="fonts-")))
    main, _ = _coverage()
    files = font_files()
    prepared: list[dict[str, Path]] = []
    for number, cut in enumerate(CUTS):
        styles = {style: folder / f"OpenSans{style}-{number}.ttf" for style in ("", "B")}
        for style, target in styles.items():
            _cut(files[style], main if cut is None else main & cut, target)
        prepared.append(styles)
    return tuple(prepared)


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


def printable(text: str) -> str:
    """``text`` on one line (line breaks become spaces, control characters go: each call prints
    one field), every character no font can draw replaced by its base letters, or ``?``."""
    main, fallback = _coverage()
    out: list[str] = []
    for char in header_text(text):
        if ord(char) in main or ord(char) in fallback:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if ord(c) in main or ord(c) in fallback
        )
        out.append(base if base.strip() else "?")
    return "".join(out)


def _needs(texts: Iterable[str]) -> tuple[int, bool]:
    """The smallest cut of Open Sans that draws ``texts`` (each character as it is, once line
    breaks and control characters are gone, except those only the CJK fallback has: the others
    print as letters of ``main``, which the last cut holds), and whether they need the CJK
    fallback."""
    main, fallback = _coverage()
    characters = {ord(char) for text in texts for char in header_text(text)}
    open_sans = characters - fallback
    cut = next(n for n, c in enumerate(CUTS) if c is None or not open_sans - (main & c))
    return cut, bool(characters & fallback)


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


def _document(language: str, texts: Iterable[str]) -> _Writer:
    """A new A4 document in Open Sans (its small cut when ``texts`` need no more), with the CJK
    fallback only when ``texts`` need it (loading it costs about a second; fpdf2 subsets a font
    in place, so nothing is shared between documents)."""
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

    pdf = FPDF(format="A4")
    cut, cjk = _needs(texts)
    fonts = prepared_fonts()[cut]
    pdf.add_font(FAMILY, "", fonts[""])
    pdf.add_font(FAMILY, "B", fonts["B"])
    for font in pdf.fonts.values():  # the prepared fonts' bounding boxes are exact already
        if isinstance(font, TTFFont):
            font.ttfont.recalcBBoxes = False
    if cjk:
        pdf.add_font(FALLBACK, "", font_files()["fallback"], collection_font_number=0)
        pdf.set_fallback_fonts([FALLBACK], exact_match=False)
    pdf.set_lang(language)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return _Writer(pdf, fallback=cjk)


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


#: Lines of the paragraphs already broken, by text, font and width (:meth:`_Writer.lines`):
#: the statements and accreditation paragraphs of a session's certificates are the same in
#: every one of them, and fpdf2's line breaking (character by character, each step measuring
#: the line so far again) cost more than the rest of a certificate together.
_BROKEN: dict[tuple[object, ...], tuple[str, ...]] = {}
_BROKEN_KEPT = 512


class _Writer:
    """Writes a document's text one field after the other, left-aligned, each field on as many
    lines as it needs between the margins."""

    def __init__(self, pdf: FPDF, *, fallback: bool) -> None:
        self.pdf = pdf
        self.fallback = fallback  # the CJK fallback font is loaded: widths per character

    def lines(self, text: str, height: float) -> Sequence[str]:
        """``text`` (one printable field) broken into the lines that fit between the margins
        in the current font, as fpdf2 breaks them: measured first (a field that fits, a name
        or a date, is one line), else broken once per process and remembered. A document with
        the CJK fallback breaks every field (its widths are per character and font), and
        remembers only those that wrap: its one-line names would push the session's
        statements out of the memo."""
        pdf = self.pdf
        width = pdf.epw - 2 * pdf.c_margin
        if not self.fallback and pdf.get_string_width(text) <= width:
            return (text,)
        key = (text, pdf.font_family, pdf.font_style, pdf.font_size_pt, width, self.fallback)
        found = _BROKEN.get(key)
        if found is None:
            broken = pdf.multi_cell(0, height, text, align="L", dry_run=True, output="LINES")
            assert isinstance(broken, list)  # what output="LINES" returns
            found = tuple(broken)
            if len(found) > 1:
                if len(_BROKEN) >= _BROKEN_KEPT:
                    _BROKEN.clear()
                _BROKEN[key] = found
        return found

    def line(
        self,
        text: str,
        *,
        size: float = 11,
        bold: bool = False,
        gap: float = 2,
        leading: float = 0.5,
    ) -> None:
        from fpdf.enums import XPos, YPos

        pdf = self.pdf
        pdf.set_font(FAMILY, "B" if bold else "", size)
        height = size * leading
        for line in self.lines(printable(text), height):
            pdf.cell(0, height, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    def paragraphs(self, text: str, *, size: float = 10, gap: float = 4) -> None:
        for paragraph in text.splitlines():
            if paragraph.strip():
                self.line(paragraph, size=size, gap=gap / 2)
        self.pdf.ln(gap / 2)

    def sections(self, sections: tuple[CertificateSection, ...]) -> None:
        """Each regime's heading, fields and statements, a little smaller than the rest."""
        for section in sections:
            self.line(section.heading, size=10, bold=True, gap=0.5)
            for line in section.lines:
                self.line(line, size=9, gap=0, leading=0.45)
            self.pdf.ln(1)
            for paragraph in section.paragraphs:
                self.line(paragraph, size=8, gap=0.8, leading=0.45)
            self.pdf.ln(1.5)


def certificate_pdf(data: CertificateData) -> bytes:
    out = _document(data.language, _texts(data))
    pdf = out.pdf
    pdf.set_title(printable(f"{data.title} - {data.physician_name}"))
    pdf.set_author(printable(data.provider))
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
    pdf.ln(4)
    out.sections(data.sections)
    out.paragraphs(data.statement)
    out.paragraphs(data.accreditation, gap=5)
    if data.signatory_name:
        out.line(data.signatory_name, bold=True, gap=1)
        if data.signatory_title:
            out.line(data.signatory_title, size=10)
        pdf.ln(4)
    draw_qr(pdf, data.verify_url)
    out.line(data.code_line, size=10)
    out.line(data.verify_url, size=10)
    out.line(data.issued_text, size=9)
    return bytes(pdf.output())


def statement_pdf(data: StatementData) -> bytes:
    out = _document(data.language, _texts(data))
    pdf = out.pdf
    pdf.set_title(printable(f"{data.title} - {data.physician_name}"))
    pdf.set_author(printable(data.provider))
    out.line(data.provider, size=12, bold=True, gap=4)
    out.line(data.title, size=18, bold=True, gap=6)
    out.line(data.physician_name, size=14, bold=True, gap=6)
    out.line(data.totals_title, size=12, bold=True)
    for line in data.totals:
        out.line(line)
    if data.requirements:
        pdf.ln(3)
        out.line(data.requirements_title, size=12, bold=True)
        for line in data.requirements:
            out.line(line)
    if data.sessions:
        pdf.ln(3)
        out.line(data.sessions_title, size=12, bold=True)
        for line in data.sessions:
            out.line(line, size=10, gap=1)
    return bytes(pdf.output())
