"""Physician identifiers: NPI (Luhn over "80840" + the first 9 digits), RPPS (11 digits), and
the state medical licence (USPS state code and the number that state's board gave).

Identifiers are checked as ASCII digits: the schemas fold what people type first (fullwidth
digits become ASCII, :func:`tracker.domain.numerals.folded`), so that one number is stored one
way, found by the search, and held by one physician."""

from __future__ import annotations

from tracker.domain.numerals import is_ascii_digits


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit for ``digits`` (the check digit itself not included)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the rightmost payload digit sits next to the check digit
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_problem(npi: str) -> str | None:
    """Why ``npi`` is not a valid NPI, or ``None``."""
    if len(npi) != 10 or not is_ascii_digits(npi):
        return "an NPI has exactly 10 digits (0-9)"
    if luhn_check_digit("80840" + npi[:9]) != int(npi[9]):
        return "this NPI fails its check digit (Luhn over 80840 + the first 9 digits)"
    return None


def rpps_problem(rpps: str) -> str | None:
    if len(rpps) != 11 or not is_ascii_digits(rpps):
        return "an RPPS number has exactly 11 digits (0-9)"
    return None


#: Where a US medical licence is issued: the states, DC and the territories (USPS codes).
LICENSE_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    ]
)


def license_state_problem(state: str) -> str | None:
    if state not in LICENSE_STATES:
        return "a licence state is a two-letter USPS code of a US state or territory, such as NY"
    return None
