"""Certificates and statements as PDF (fpdf2, core fonts in Windows-1252: Western European
text and ™ print as they are; other characters fall back to their closest Latin letters)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from notifications.text import header_text

ENCODING = "windows-1252"


def printable(text: str) -> str:
    """``text`` on one line (line breaks become spaces, control characters go: each call prints
    one field), every character the core fonts cannot show replaced by its base letter."""
    out: list[str] = []
    for char in header_text(text):
        try:
            char.encode(ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


@dataclass(frozen=True)
class CertificateData:
    title: str
    provider: str
    physician_name: str
    identifiers: tuple[str, ...]
    series_title: str
    session_text: str
    minutes_label: str
    minutes: str
    credits: tuple[tuple[str, str], ...]
    statement: str
    code_label: str
    code: str
    verify_url: str
    issued_text: str


@dataclass(frozen=True)
class StatementData:
    title: str
    provider: str
    physician_name: str
    period_label: str
    totals_title: str
    totals: tuple[tuple[str, str], ...]
    requirements_title: str
    requirements: tuple[str, ...]
    sessions_title: str
    sessions: tuple[tuple[str, str, str, str], ...] = field(default_factory=tuple)


def _document() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    return pdf


def _line(pdf: FPDF, text: str, *, size: float = 11, bold: bool = False, gap: float = 2) -> None:
    pdf.set_font("helvetica", "B" if bold else "", size)
    pdf.multi_cell(0, size * 0.5, printable(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(gap)


def certificate_pdf(data: CertificateData) -> bytes:
    pdf = _document()
    pdf.set_title(printable(f"{data.title} - {data.physician_name}"))
    pdf.set_author(printable(data.provider))
    _line(pdf, data.provider, size=12, bold=True, gap=6)
    _line(pdf, data.title, size=20, bold=True, gap=8)
    _line(pdf, data.physician_name, size=16, bold=True)
    if data.identifiers:
        _line(pdf, " · ".join(data.identifiers), size=10, gap=6)
    _line(pdf, data.series_title, size=13, bold=True)
    _line(pdf, data.session_text, gap=6)
    _line(pdf, f"{data.minutes_label}: {data.minutes}", gap=4)
    for label, amount in data.credits:
        _line(pdf, f"{label}: {amount}", bold=True)
    pdf.ln(4)
    _line(pdf, data.statement, size=10, gap=8)
    _line(pdf, f"{data.code_label}: {data.code}", size=10)
    _line(pdf, data.verify_url, size=10)
    _line(pdf, data.issued_text, size=9)
    return bytes(pdf.output())


def statement_pdf(data: StatementData) -> bytes:
    pdf = _document()
    pdf.set_title(printable(f"{data.title} - {data.period_label}"))
    _line(pdf, data.provider, size=12, bold=True, gap=6)
    _line(pdf, f"{data.title}: {data.period_label}", size=18, bold=True, gap=6)
    _line(pdf, data.physician_name, size=14, bold=True, gap=6)
    _line(pdf, data.totals_title, size=12, bold=True)
    for label, amount in data.totals:
        _line(pdf, f"{label}: {amount}")
    if data.requirements:
        pdf.ln(3)
        _line(pdf, data.requirements_title, size=12, bold=True)
        for text in data.requirements:
            _line(pdf, text)
    if data.sessions:
        pdf.ln(3)
        _line(pdf, data.sessions_title, size=12, bold=True)
        for when, title, minutes, credits in data.sessions:
            _line(pdf, f"{when} - {title} - {minutes} min - {credits}", size=10, gap=1)
    return bytes(pdf.output())
