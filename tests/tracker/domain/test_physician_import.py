"""The import's shortcut for email keys: an address the physician schema accepted is its own
key when ASCII (the import skips the second email-validator pass only there)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.physician_files import physicians_file
from tracker.adapters.physicians_csv import physician_rows, physician_values
from tracker.domain.physicians import email_key, import_key, import_row
from tracker.domain.schemas import PhysicianCreate
from tracker.errors import RowError

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."
LABEL = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20
)
ADDRESSES = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.text(ATEXT, min_size=1, max_size=30),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["org", "COM", "fr", "example", "xn--bcher-kva", "Ex-Ample"]),
) | st.emails().map(str)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(address=ADDRESSES)
def test_an_accepted_ascii_address_is_its_own_key(address: str) -> None:
    try:
        normalised = PhysicianCreate.model_validate(
            {"first_name": "A", "last_name": "B", "email": address}
        ).email
    except ValidationError:
        return
    assert import_key(normalised) == email_key(normalised)


def test_every_row_of_a_generated_file_gets_the_key_a_single_create_would() -> None:
    made = physicians_file(600, bad_every=97)
    keys, errors = [], []
    for item in physician_rows(made.text):
        assert not isinstance(item, RowError)
        line, row = item
        try:
            keys.append((import_row(line, physician_values(row)).key, email_key(row["email"])))
        except RowError as exc:
            errors.append(str(exc))

    assert errors == made.errors
    assert [mine for mine, _ in keys] == [theirs for _, theirs in keys]
    assert any(not key.isascii() for key, _ in keys)  # the shortcut's other side is covered


def test_a_row_with_an_invisible_name_or_a_markup_board_id_is_refused_and_named() -> None:
    text = (
        "first_name,last_name,email,board_ids,npi\n"
        "Jeanne,O'Brien\u202eevil,jeanne@example.org,,\n"
        "Paul,Martin,paul@example.org,ABIM:<b>123</b>,\n"
        "In\u00e8s,\u200b,ines@example.org,,\n"
        "Marie,Curie,marie@example.org,ABIM:\uff11\uff12\uff13,\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff13\n"
    )
    outcomes: list[tuple[int, str, str | None] | tuple[int, dict[str, str], str | None]] = []
    for item in physician_rows(text):
        assert not isinstance(item, RowError)
        line, row = item
        try:
            read = import_row(line, physician_values(row))
        except RowError as exc:
            outcomes.append((exc.line, exc.field or "", exc.kind))
        else:
            outcomes.append((line, read.values["board_ids"], read.values["npi"]))

    assert outcomes == [
        (2, "last_name", "name_invisible"),
        (3, "board_ids.ABIM", "value_error"),
        (4, "last_name", "name_invisible"),
        (5, {"ABIM": "123"}, "1234567893"),
    ]
