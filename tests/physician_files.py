"""Physician CSV files as organisers hand them over, of any size: French and English names with
accents, addresses in mixed case, NPI and RPPS numbers, board ids, and a few bad rows.

Used by the import tests and by ``bench/import_physicians.py``; the same seed gives the same
file, so a re-import of a generated file is a re-import of the same bytes.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass

from tracker.adapters.physicians_csv import PHYSICIAN_COLUMNS
from tracker.domain.identifiers import luhn_check_digit

HEADER = PHYSICIAN_COLUMNS
FRENCH_FIRST = (
    "Jeanne", "Inès", "Chloé", "Hélène", "Éloïse", "Anaïs", "Zoé", "Maëlle", "Léa", "Noémie",
    "François", "Jérôme", "Benoît", "Gaëtan", "Loïc", "Raphaël", "Noël", "Côme", "Théo", "Hervé",
)  # fmt: skip
FRENCH_LAST = (
    "Durand", "Moreau", "Lefèvre", "Bézier", "Crémieux", "Mégret", "Du Pré", "L'Hôpital",
    "Müller", "Faure-Lévêque", "Gâteau", "Prévost", "Bénard", "Ollivier", "Chêne",
)  # fmt: skip
ENGLISH_FIRST = (
    "Mary", "James", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Siobhán",
    "Seán", "Renée", "José", "Zoë", "Chloë", "Aoife",
)  # fmt: skip
ENGLISH_LAST = (
    "Smith", "Johnson", "O'Brien", "McAllister", "Núñez", "García", "Brontë", "Williams",
    "Clarke-Ávila", "Nguyễn", "Van der Berg", "Østergaard",
)  # fmt: skip
DOMAINS = (
    "example.org",
    "Example.COM",
    "chu-lyon.example.fr",
    "Hopital.Example.fr",
    "mail.example",
)
STATES = ("NY", "ca", "TX", "ma", "IL", "WA")
#: Bad rows, each with the message the import must give for it (after ``line N: ``).
BAD_ROWS = (
    (
        {"timezone": "Mars/Olympus"},
        "timezone: unknown IANA timezone 'Mars/Olympus'",
    ),
    (
        {"npi": "1234567890"},
        "npi: this NPI fails its check digit (Luhn over 80840 + the first 9 digits)",
    ),
    ({"first_name": ""}, "first_name: Field required"),
    ({"birth_month": "13"}, "birth_month: Input should be less than or equal to 12"),
)


@dataclass(frozen=True)
class PhysicianFile:
    text: str
    #: ``line N: message`` for every bad row, in file order.
    errors: list[str]
    #: how many distinct physicians the good rows describe
    good: int


def npi(number: int) -> str:
    """A valid NPI (its check digit right) made from ``number``."""
    payload = f"1{number % 10**8:08d}"
    return payload + str(luhn_check_digit("80840" + payload))


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def physician_row(number: int, rng: random.Random) -> dict[str, str]:
    french = number % 2 == 0
    first = rng.choice(FRENCH_FIRST if french else ENGLISH_FIRST)
    last = rng.choice(FRENCH_LAST if french else ENGLISH_LAST)
    local = f"{_ascii(first)}.{_ascii(last)}.{number}"
    if number % 11 == 0:  # an internationalised local part: chloé.durand.11@…
        local = f"{first}.{last}.{number}".lower().replace(" ", "").replace("'", "")
    elif number % 7 == 0:
        local = local.title()  # Jeanne.Durand.42@…: the import must lower-case it
    row = dict.fromkeys(HEADER, "")
    row |= {
        "first_name": first,
        "last_name": last,
        "email": f"{local}@{rng.choice(DOMAINS)}",
        "timezone": "Europe/Paris" if french else rng.choice(("America/New_York", "UTC")),
        "language": "fr" if french else "en",
        "consent_board_reporting": rng.choice(("yes", "no", "oui", "", "1")),
    }
    if french:
        row["rpps"] = f"1{number:010d}"
    else:
        row["npi"] = npi(number)
        row["license_state"] = rng.choice(STATES)
        row["license_number"] = f"MD{number:06d}"
        if number % 3 == 0:
            row["board_ids"] = f"ABIM:{number:06d};ABFM: {number + 1:06d}"
    if number % 5 == 0:
        row["birth_month"], row["birth_day"] = str(rng.randint(1, 12)), str(rng.randint(1, 28))
    return row


def physicians_file(count: int, *, bad_every: int = 0, seed: int = 9) -> PhysicianFile:
    """``count`` data rows; with ``bad_every`` = k, every k-th row is bad (one of BAD_ROWS)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    errors = []
    for number in range(1, count + 1):
        row = physician_row(number, rng)
        if bad_every and number % bad_every == 0:
            change, message = BAD_ROWS[(number // bad_every) % len(BAD_ROWS)]
            row |= change
            errors.append(f"line {number + 1}: {message}")
        writer.writerow(row.values())
    return PhysicianFile(out.getvalue(), errors, count - len(errors))
