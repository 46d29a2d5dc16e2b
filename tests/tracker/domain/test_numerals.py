"""Digits as people type them: fullwidth ones are read as ASCII, other scripts', signs,
exponents and underscores are refused (identifiers, claimed minutes, the pages' numbers)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.domain.claims import parse_minutes
from tracker.domain.identifiers import npi_problem, rpps_problem
from tracker.domain.numerals import plain_decimal, whole_number

FULLWIDTH_70 = "\uff17\uff10"
ARABIC_INDIC_70 = "\u0667\u0660"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1,5", "1.5"),
        (" 1.5 ", "1.5"),
        (",5", "0.5"),
        ("12", "12"),
        (FULLWIDTH_70, "70"),
        ("\uff11\uff0c\uff15", "1.5"),  # fullwidth 1, fullwidth comma, fullwidth 5
        (ARABIC_INDIC_70, None),
        ("1_0", None),
        ("1e1", None),
        ("inf", None),
        ("nan", None),
        ("-1", None),
        ("+1", None),
        ("1,000.5", None),
        ("\u00b2", "2"),  # superscript two: NFKC folds it to the digit it shows
        ("", None),
    ],
)
def test_plain_decimal_reads_only_plain_numbers(typed: str, read: str | None) -> None:
    assert plain_decimal(typed) == read


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("7", 7),
        (" 12 ", 12),
        (FULLWIDTH_70, 70),
        (ARABIC_INDIC_70, None),
        ("1_0", None),
        ("", None),
    ],
)
def test_whole_number_reads_ascii_digits_once_folded(typed: str, read: int | None) -> None:
    assert whole_number(typed) == read


def test_whole_number_refuses_more_digits_than_allowed() -> None:
    assert (whole_number("1" * 19), whole_number("1" * 18)) == (None, int("1" * 18))


def test_identifiers_are_ascii_digits_only() -> None:
    assert npi_problem("\u0661" * 10) == "an NPI has exactly 10 digits (0-9)"
    assert rpps_problem("\u0661" * 11) == "an RPPS number has exactly 11 digits (0-9)"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("45", Decimal("45")),
        ("47,5", Decimal("47.5")),
        ("1\u202f000", Decimal("1000")),
        (FULLWIDTH_70, Decimal("70")),
        (ARABIC_INDIC_70, "claim.bad.minutes"),
        ("1_0", "claim.bad.minutes"),
        ("1e1", "claim.bad.minutes"),
        ("NaN", "claim.bad.minutes"),
        ("", "claim.bad.minutes"),
        ("0", "claim.bad.zero"),
        ("-5", "claim.bad.zero"),
        ("75.001", "claim.bad.precision"),
        ("100000.01", "claim.bad.more"),
        ("9" * 40, "claim.bad.more"),
    ],
)
def test_claimed_minutes_are_plain_numbers_and_each_refusal_says_why(
    typed: str, read: Decimal | str
) -> None:
    assert parse_minutes(typed) == read
