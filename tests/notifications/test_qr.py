"""The certificate's QR code (issue 11, point 4), read back by ZXing from the PDF as poppler
renders it: whatever the length of what comes before it, it is whole on one page."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader

from notifications.pdf import CertificateData, certificate_pdf
from notifications.qr import QUIET_ZONE, ascii_url, dark_runs, modules
from tests.pdf_tools import pdftotext, qr_codes, qr_codes_by_page

URL = "https://cme.example.org:8443/fmc/certificates/FGH4KZ7-JDQPEZM-DI7DTXE-DPB6G4H"


def _certificate(paragraphs: int) -> CertificateData:
    return CertificateData(
        language="fr",
        title="Attestation de participation",
        provider="Institut du Numérique en Santé",
        physician_name="Łukasz Żółć",
        identifiers=("RPPS 10000000001",),
        series_title="Les lundis de la santé numérique",
        session_text="mardi 1 décembre 2026 à 12:30 (Europe/Paris)",
        activity="Format : Activité en direct — webinaire",
        location="Lieu : En ligne (Zoom)",
        attendance="Minutes de présence : 60 min",
        credits_title="Crédits obtenus",
        credits=("1,0 heure DPC",),
        statement="\n".join(f"Paragraphe {n} de la désignation." for n in range(paragraphs)),
        accreditation="L’organisme est accrédité.",
        signatory_name="Dr Hélène Dupont-Łęcka",
        signatory_title="Directrice scientifique",
        code_line="Code de vérification : FGH4KZ7-JDQPEZM-DI7DTXE-DPB6G4H",
        verify_url=URL,
        issued_text="Délivrée le mardi 1 décembre 2026",
    )


@pytest.mark.parametrize("paragraphs", [0, 8, 9, 10, 12, 16, 30])
def test_the_qr_code_holds_the_url_and_stays_on_the_page_of_its_url(paragraphs: int) -> None:
    """From 8 to 16 paragraphs, the end of the first page falls across the QR code or the two
    lines under it: the three move to the next page together."""
    pdf = certificate_pdf(_certificate(paragraphs))
    pages = PdfReader(io.BytesIO(pdf)).pages
    with_url = [n for n, page in enumerate(pages) if URL in page.extract_text()]
    with_code = [n for n, page in enumerate(qr_codes_by_page(pdf)) if page == [URL]]

    assert qr_codes(pdf) == [URL]
    assert URL in pdftotext(pdf)
    assert with_url == with_code


def test_the_code_is_the_urls_and_nothing_else() -> None:
    rows = modules(URL)

    assert len(rows) == len(rows[0]) and (len(rows) - 17) % 4 == 0  # a QR code's side: 4v + 17
    assert rows != modules(URL + "X")


@pytest.mark.parametrize("url", [URL, "https://a.example/c/1", URL + "/" + "Z" * 120])
def test_the_drawn_runs_cover_the_dark_modules_and_no_others(url: str) -> None:
    rows = modules(url)
    side, runs = dark_runs(url)

    drawn = [[False] * len(rows) for _ in rows]
    for column, row, length in runs:
        for x in range(column, column + length):
            assert not drawn[row - QUIET_ZONE][x - QUIET_ZONE]  # no module drawn twice
            drawn[row - QUIET_ZONE][x - QUIET_ZONE] = True
    assert side == len(rows) + 2 * QUIET_ZONE
    assert tuple(map(tuple, drawn)) == rows


@pytest.mark.parametrize(
    ("url", "held"),
    [
        (URL, URL),
        (
            "https://formation-médicale.example.fr/fmc/certificates/FGH4KZ7-JDQPEZM",
            "https://xn--formation-mdicale-ltb.example.fr/fmc/certificates/FGH4KZ7-JDQPEZM",
        ),
        (
            "https://Santé.example:8443/fmc/é?x=ü",
            "https://xn--sant-epa.example:8443/fmc/%C3%A9?x=%C3%BC",
        ),
        ("http://[::1]:8080/é", "http://[::1]:8080/%C3%A9"),
    ],
)
def test_a_code_holds_its_url_in_ascii_which_every_reader_reads_alike(url: str, held: str) -> None:
    """A QR code holds bytes: a reader guesses the encoding of any byte above 127 (ZBar read
    an ``é`` as a kanji). The host goes in IDNA form, the rest percent-encoded: a browser opens
    it as it would the URL as written."""
    pdf = certificate_pdf(dataclasses.replace(_certificate(0), verify_url=url))

    assert ascii_url(url) == held
    assert qr_codes(pdf) == [held]  # ZBar and ZXing alike (qr_codes checks both)
