"""What a PDF field prints: one line, every character one of the embedded fonts draws; the others
as their base letters when those print, else ``?`` (never an empty box)."""

from __future__ import annotations

import pytest

from notifications.pdf import printable


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("Françoise Lefèvre-Aubert", "Françoise Lefèvre-Aubert"),  # as it is: the fast path
        ("Łukasz 王 Ελένη Дмитрий", "Łukasz 王 Ελένη Дмитрий"),  # Open Sans and the CJK fallback
        ("Dr Ana\nSmith\x07\tMD", "Dr Ana Smith MD"),  # one line, no control characters
        ("Ǆ ℌ", "DZ H"),  # no glyph: the base letters
        ("Franc\u0327oise Nguye\u0302\u0303n", "Françoise Nguyễn"),  # decomposed (a Mac): composed
        ("Ana\u0334 Silva", "Ana Silva"),  # a combining mark no font draws: the letter, bare
        ("Dr 👩 Ana", "Dr ? Ana"),  # no glyph and no base letters
        ("डॉ. Ravi", "??. Ravi"),  # Devanagari: neither font has it
    ],
)
def test_a_field_prints_on_one_line_in_characters_the_fonts_draw(given: str, printed: str) -> None:
    assert printable(given) == printed
