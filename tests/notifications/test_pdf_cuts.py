"""A certificate embeds the glyphs it uses of Open Sans (Latin, Vietnamese, Greek, Cyrillic), and
of the CJK fallback when a name needs it: in any script, poppler reads every name back whole,
from fonts embedded in the file."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest

from notifications.pdf import CertificateData, certificate_pdf
from tests.pdf_tools import pdffonts, pdftotext

BASE = CertificateData(
    language="en",
    title="Certificate of attendance",
    provider="Institut du Numérique en Santé",
    physician_name="",
    identifiers=("NPI 1234567890",),
    series_title="Grand rounds – cardiology",
    session_text="Tuesday 1 December 2026, 12:30 (Europe/Paris)",
    activity="Format: live activity — webinar",
    location="Location: online (Zoom)",
    attendance="Minutes attended: 60",
    credits_title="Credits earned",
    credits=("1.0 AMA PRA Category 1 Credit™",),
    statement="The provider designates this live activity for a maximum of 1.0 credit.",
    accreditation="The provider is accredited by the ACCME.",
    signatory_name="Dr Hélène Dupont",
    signatory_title="Scientific director",
    code_line="Verification code: FGH4KZ7-JDQPEZM-DI7DTXE-DPB6G4H",
    verify_url="https://cme.example.org/certificates/FGH4KZ7-JDQPEZM-DI7DTXE-DPB6G4H",
    issued_text="Issued on Tuesday 1 December 2026",
)


@pytest.mark.parametrize(
    "name",
    [
        "Jeanne O’Brien-Ørsted",  # Western European: the smallest cut
        "Łukasz Żółć",  # Central European
        "Nguyễn Thị Minh Khai",  # Vietnamese: every script Open Sans has
        "Ελένη Παπαδοπούλου",  # Greek
        "Дмитрий Иванов",  # Cyrillic
        "王芳",  # CJK only: the fallback beside the smallest cut
        "Łukasz 王",  # Central European and CJK
        "Ελένη 김",  # Greek and Hangul
    ],
)
def test_a_name_in_any_script_prints_whole_from_embedded_fonts(name: str) -> None:
    pdf = certificate_pdf(dataclasses.replace(BASE, physician_name=name))

    lines = pdftotext(pdf)
    assert name in lines
    assert "1.0 AMA PRA Category 1 Credit™" in lines
    assert "Dr Hélène Dupont" in lines
    fonts = pdffonts(pdf)
    assert fonts and all(font["emb"] == "yes" and font["sub"] == "yes" for font in fonts)
    assert len(fonts) == (3 if any(ord(char) > 0x3000 for char in name) else 2)


def test_a_name_typed_decomposed_prints_composed() -> None:
    """macOS writes ``ç`` as ``c`` and a combining cedilla, which Open Sans does not draw alone."""
    composed = "Françoise Nguyễn-Lefèvre"
    pdf = certificate_pdf(
        dataclasses.replace(BASE, physician_name=unicodedata.normalize("NFD", composed))
    )

    assert composed in pdftotext(pdf)
