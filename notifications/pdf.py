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

Open Sans is loaded for every document (a few hundredths of a second); the CJK font (about a
second) only for a document that holds a character only it has.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Iterator
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


def _needs_fallback(texts: Iterable[str]) -> bool:
    _, fallback = _coverage()
    return any(ord(char) in fallback for text in texts for char in text)


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


def _document(language: str, texts: Iterable[str]) -> FPDF:
    """A new A4 document in Open Sans, with the CJK fallback only when ``texts`` need it
    (loading it costs about a second; fpdf2 subsets a font in place, so nothing is shared)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    files = font_files()
    pdf.add_font(FAMILY, "", files[""])
    pdf.add_font(FAMILY, "B", files["B"])
    if _needs_fallback(texts):
        pdf.add_font(FALLBACK, "", files["fallback"], collection_font_number=0)
        pdf.set_fallback_fonts([FALLBACK], exact_match=False)
    pdf.set_lang(language)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return pdf


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


def _line(
    pdf: FPDF,
    text: str,
    *,
    size: float = 11,
    bold: bool = False,
    gap: float = 2,
    leading: float = 0.5,
) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    from fpdf.enums import XPos, YPos

    pdf.multi_cell(0, size * leading, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(gap)


def _paragraphs(pdf: FPDF, text: str, *, size: float = 10, gap: float = 4) -> None:
    for paragraph in text.splitlines():
        if paragraph.strip():
            _line(pdf, paragraph, size=size, gap=gap / 2)
    pdf.ln(gap / 2)


def certificate_pdf(data: CertificateData) -> bytes:
    pdf = _document(data.language, _texts(data))
    pdf.set_title(printable(f"{data.title} - {data.physician_name}"))
    pdf.set_author(printable(data.provider))
    _line(pdf, data.provider, size=12, bold=True, gap=4)
    _line(pdf, data.title, size=20, bold=True, gap=5)
    _line(pdf, data.physician_name, size=16, bold=True)
    if data.identifiers:
        _line(pdf, " · ".join(data.identifiers), size=10, gap=4)
    _line(pdf, data.series_title, size=13, bold=True)
    _line(pdf, data.session_text)
    _line(pdf, data.activity)
    _line(pdf, data.location, gap=4)
    _line(pdf, data.attendance, gap=4)
    if data.credits:  # those of no regime (each regime's section states its own)
        _line(pdf, data.credits_title, bold=True)
    for line in data.credits:
        _line(pdf, line, bold=True)
    pdf.ln(4)
    _sections(pdf, data.sections)
    _paragraphs(pdf, data.statement)
    _paragraphs(pdf, data.accreditation, gap=5)
    if data.signatory_name:
        _line(pdf, data.signatory_name, bold=True, gap=1)
        if data.signatory_title:
            _line(pdf, data.signatory_title, size=10)
        pdf.ln(4)
    draw_qr(pdf, data.verify_url)
    _line(pdf, data.code_line, size=10)
    _line(pdf, data.verify_url, size=10)
    _line(pdf, data.issued_text, size=9)
    return bytes(pdf.output())


def _sections(pdf: FPDF, sections: tuple[CertificateSection, ...]) -> None:
    """Each regime's heading, fields and statements, a little smaller than the rest."""
    for section in sections:
        _line(pdf, section.heading, size=10, bold=True, gap=0.5)
        for line in section.lines:
            _line(pdf, line, size=9, gap=0, leading=0.45)
        pdf.ln(1)
        for paragraph in section.paragraphs:
            _line(pdf, paragraph, size=8, gap=0.8, leading=0.45)
        pdf.ln(1.5)


def statement_pdf(data: StatementData) -> bytes:
    pdf = _document(data.language, _texts(data))
    pdf.set_title(printable(f"{data.title} - {data.physician_name}"))
    pdf.set_author(printable(data.provider))
    _line(pdf, data.provider, size=12, bold=True, gap=4)
    _line(pdf, data.title, size=18, bold=True, gap=6)
    _line(pdf, data.physician_name, size=14, bold=True, gap=6)
    _line(pdf, data.totals_title, size=12, bold=True)
    for line in data.totals:
        _line(pdf, line)
    if data.requirements:
        pdf.ln(3)
        _line(pdf, data.requirements_title, size=12, bold=True)
        for line in data.requirements:
            _line(pdf, line)
    if data.sessions:
        pdf.ln(3)
        _line(pdf, data.sessions_title, size=12, bold=True)
        for line in data.sessions:
            _line(pdf, line, size=10, gap=1)
    return bytes(pdf.output())
