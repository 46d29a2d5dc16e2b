"""A certificate's fields are written left-aligned, each on as many lines as it needs between
the margins: a field that fits is one line, a longer one (an accreditation statement, a very long
name) breaks between words, in whatever font and size it is written. The lines of a paragraph
every certificate of a session repeats are broken once per process and reused; read back by
poppler, every word is there, in order, inside the margins."""

from __future__ import annotations

import dataclasses
import io

from pypdf import PdfReader

from notifications.pdf import CertificateSection, StatementData, certificate_pdf, statement_pdf
from tests.notifications.test_pdf_cuts import BASE
from tests.pdf_tools import pdftotext, words

A4_WIDTH = 595.28  # points
MARGIN = 20 / 25.4 * 72  # 20 mm
STATEMENT = (
    "The Institut du Numérique en Santé is accredited by the Accreditation Council for "
    "Continuing Medical Education (ACCME) to provide continuing medical education for "
    "physicians, and designates this live activity for a maximum of 1.0 AMA PRA Category 1 "
    "Credit™. Physicians should claim only the credit commensurate with the extent of their "
    "participation in the activity."
)


def _blocks(pdf: bytes, text: str) -> list[list[str]]:
    """Each run of lines read back that holds the words of ``text``, in order."""
    lines, wanted = pdftotext(pdf), text.split()
    blocks: list[list[str]] = []
    for start, line in enumerate(lines):
        if not line.startswith(" ".join(wanted[:2])):
            continue
        taken: list[str] = []
        for following in lines[start:]:
            taken.append(following)
            if sum(len(each.split()) for each in taken) >= len(wanted):
                break
        blocks.append(taken)
    return blocks


def _inside_the_margins(pdf: bytes) -> None:
    for word, left, right, _ in words(pdf):
        assert left >= MARGIN - 1 and right <= A4_WIDTH - MARGIN + 1, (word, left, right)


def test_a_long_paragraph_breaks_between_words_inside_the_margins() -> None:
    pdf = certificate_pdf(dataclasses.replace(BASE, accreditation=STATEMENT))

    (lines,) = _blocks(pdf, STATEMENT)
    assert len(lines) >= 3
    assert " ".join(lines).split() == STATEMENT.split()
    _inside_the_margins(pdf)


def test_the_same_words_smaller_take_fewer_lines_in_the_same_document() -> None:
    section = CertificateSection("DPC", paragraphs=(STATEMENT,))  # 8 pt, the statement 10 pt
    for _ in range(2):  # the second time, both come from what the first broke
        pdf = certificate_pdf(dataclasses.replace(BASE, statement=STATEMENT, sections=(section,)))

        smaller, larger = _blocks(pdf, STATEMENT)
        assert " ".join(smaller).split() == " ".join(larger).split() == STATEMENT.split()
        assert len(smaller) < len(larger)
        _inside_the_margins(pdf)


def test_a_name_too_long_for_one_line_breaks_and_reads_back_whole() -> None:
    name = (
        "Marie-Anne-Françoise Élisabeth de La Tour d’Auvergne-Lauraguais "
        "de Montmorency-Laval, épouse Saint-Exupéry-Beauharnais"
    )
    pdf = certificate_pdf(dataclasses.replace(BASE, physician_name=name))

    (lines,) = _blocks(pdf, name)
    assert len(lines) >= 2 and " ".join(lines).split() == name.split()
    _inside_the_margins(pdf)


def test_a_paragraph_beside_a_chinese_name_breaks_inside_the_margins() -> None:
    pdf = certificate_pdf(dataclasses.replace(BASE, physician_name="王芳", accreditation=STATEMENT))

    assert "王芳" in pdftotext(pdf)
    (lines,) = _blocks(pdf, STATEMENT)
    assert " ".join(lines).split() == STATEMENT.split()
    _inside_the_margins(pdf)


def test_a_word_wider_than_a_line_breaks_between_characters() -> None:
    """A web address or a name with no spaces: as many characters as fit, then the rest."""
    url = "https://cme.example.org/" + "pages/" * 30 + "accreditation-statement-of-the-provider"
    pdf = certificate_pdf(dataclasses.replace(BASE, accreditation=f"See {url}"))

    lines = pdftotext(pdf)
    start = lines.index("See")
    pieces = lines[start + 1 : start + 4]
    assert len(pieces) >= 2 and "".join(pieces).startswith(url[:150])
    _inside_the_margins(pdf)


def test_a_chinese_paragraph_breaks_between_characters_inside_the_margins() -> None:
    paragraph = "本活动由继续医学教育认证委员会认可的机构提供" * 6  # no spaces: one long word
    pdf = certificate_pdf(dataclasses.replace(BASE, physician_name="王芳", statement=paragraph))

    lines = pdftotext(pdf)
    start = lines.index(next(line for line in lines if line.startswith("本活动")))
    taken: list[str] = []
    while sum(map(len, taken)) < len(paragraph):
        taken.append("".join(lines[start + len(taken)].split()))
    assert len(taken) >= 2 and "".join(taken) == paragraph
    _inside_the_margins(pdf)


def test_a_long_statement_runs_over_pages_with_every_line_inside_the_margins() -> None:
    sessions = tuple(
        f"Séance {n} — lundi 7 décembre 2026 : 1,0 heure DPC, Dr Łukasz Żółć" for n in range(150)
    )
    pdf = statement_pdf(
        StatementData(
            language="fr",
            title="Relevé FMC : décembre 2026",
            provider="Institut du Numérique en Santé",
            physician_name="Françoise Lefèvre-Aubert",
            totals_title="Totaux",
            totals=("150,0 heures DPC",),
            requirements_title="Exigences",
            requirements=(),
            sessions_title="Séances",
            sessions=sessions,
        )
    )

    assert [line for line in pdftotext(pdf) if line.startswith("Séance ")] == list(sessions)
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 3
    for _, _, _, top in words(pdf):  # between the top margin and the bottom one, on every page
        assert 20 / 25.4 * 72 - 1 <= top <= (297 - 18) / 25.4 * 72 + 1
