"""Keyed identity and email fingerprints: one person, one fingerprint per nationality (ECI.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.eci.fingerprint import email_fingerprint, identity_fingerprint
from app.eci.id_numbers import validate_number

KEY = b"k" * 32
OTHER_KEY = b"o" * 32

PART_A = {
    "country": "FR",
    "first_names": "Zoë Marie",
    "family_names": "O'Brien-Dupont",
    "date_of_birth": date(1990, 4, 1),
    "postal_code": "75001",
}
PART_B = {
    "country": "PL",
    "first_names": "Łukasz",
    "family_names": "Wałęsa",
    "id_type": "personal_number",
    "id_number": "44051401359",
}


def _fp(base: dict[str, Any], **changes: Any) -> str:
    return identity_fingerprint(KEY, **{**base, **changes})


def test_fingerprint_is_a_hex_sha256_without_the_identity_in_it() -> None:
    fingerprint = _fp(PART_A)
    assert len(fingerprint) == 64
    int(fingerprint, 16)
    assert "75001" not in fingerprint
    assert _fp(PART_A) == fingerprint  # deterministic


@pytest.mark.parametrize(
    "changes",
    [
        {"first_names": "ZOE MARIE"},
        {"first_names": "zoe  marie"},
        {"first_names": "Zoe\u0308 Marie"},  # decomposed ë
        {"first_names": " Zoë-Marie "},
        {"family_names": "O’Brien Dupont"},
        {"family_names": "o brien dupont"},
        {"postal_code": "75 001"},
        {"postal_code": "75.001"},
        {"country": "fr"},
    ],
)
def test_part_a_variant_spellings_are_the_same_person(changes: dict[str, Any]) -> None:
    assert _fp(PART_A, **changes) == _fp(PART_A)


@pytest.mark.parametrize(
    "changes",
    [
        {"first_names": "Zoë"},
        {"family_names": "O'Brian-Dupont"},
        {"date_of_birth": date(1990, 4, 2)},
        {"date_of_birth": date(1991, 4, 1)},
        {"postal_code": "75002"},
        {"country": "BE"},  # other nationality, and a Part B one: a different statement
        {"country": "DE"},  # other Part A nationality with exactly the same details
        {"country": "LU"},
    ],
)
def test_part_a_different_person(changes: dict[str, Any]) -> None:
    if changes.get("country") == "BE":
        changes = {**changes, "id_type": "personal_number", "id_number": "85073003328"}
    assert _fp(PART_A, **changes) != _fp(PART_A)


def test_part_a_needs_a_date_of_birth() -> None:
    with pytest.raises(ValueError, match="date of birth"):
        _fp(PART_A, date_of_birth=None)


def test_non_member_has_no_fingerprint() -> None:
    with pytest.raises(KeyError):
        _fp(PART_A, country="CH")


@pytest.mark.parametrize(
    "changes",
    [
        {"id_number": "440 514 013 59"},
        {"id_number": "44051401359 "},
        {"first_names": "Lukasz", "family_names": "Walesa"},  # Part B: names are not part of the identity
        {"first_names": "Another", "family_names": "Name"},
        {"country": "pl"},
    ],
)
def test_part_b_variant_spellings_are_the_same_person(changes: dict[str, Any]) -> None:
    assert _fp(PART_B, **changes) == _fp(PART_B)


@pytest.mark.parametrize(
    "changes",
    [
        {"id_number": "02211307589"},
        {"country": "CZ", "id_type": "passport", "id_number": "44051401359"},  # same digits, another nationality
    ],
)
def test_part_b_different_person(changes: dict[str, Any]) -> None:
    assert _fp(PART_B, **changes) != _fp(PART_B)


def test_part_b_document_type_is_part_of_the_identity() -> None:
    card = {"country": "CZ", "id_type": "id_card", "id_number": "123456789"}
    passport = {**card, "id_type": "passport"}
    assert identity_fingerprint(KEY, **card) != identity_fingerprint(KEY, **passport)
    assert identity_fingerprint(KEY, **card) != identity_fingerprint(KEY, **{**card, "country": "AT"})
    assert identity_fingerprint(KEY, **card) == identity_fingerprint(KEY, **{**card, "id_number": "123 456 789"})


def test_personnummer_forms_give_one_fingerprint_once_validated() -> None:
    numbers = {validate_number("SE", "personal_number", n) for n in ("880320-0016", "19880320-0016", "8803200016")}
    assert len(numbers) == 1
    fingerprints = {
        identity_fingerprint(KEY, country="SE", id_type="personal_number", id_number=number) for number in numbers
    }
    assert len(fingerprints) == 1


@pytest.mark.parametrize("base", [PART_A, PART_B], ids=["part-a", "part-b"])
def test_different_key_gives_a_different_fingerprint(base: dict[str, Any]) -> None:
    assert identity_fingerprint(KEY, **base) != identity_fingerprint(OTHER_KEY, **base)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"first_names": "ab", "family_names": "c"}, {"first_names": "a", "family_names": "bc"}),
        ({"first_names": "Ann Mary", "family_names": "Clare"}, {"first_names": "Ann", "family_names": "Mary-Clare"}),
        ({"first_names": "Jean", "family_names": "Luc Martin"}, {"first_names": "Jean-Luc", "family_names": "Martin"}),
        ({"family_names": "Dupont", "postal_code": "75001"}, {"family_names": "Dupont7", "postal_code": "5001"}),
    ],
)
def test_fields_cannot_run_into_each_other(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert _fp(PART_A, **first) != _fp(PART_A, **second)


def test_separator_character_in_input_cannot_forge_a_field_boundary() -> None:
    # the unit separator is whitespace to the normalizer, so it cannot split one field into two
    assert _fp(PART_A, first_names="a\x1fb", family_names="c") != _fp(PART_A, first_names="a", family_names="b\x1fc")


def test_part_b_number_cannot_run_into_the_document_type() -> None:
    one = identity_fingerprint(KEY, country="CZ", id_type="id_card", id_number="12345")
    other = identity_fingerprint(KEY, country="CZ", id_type="id_car", id_number="D12345")
    assert one != other


@pytest.mark.parametrize(
    "variant",
    ["alice@example.org", "Alice@Example.org", "ALICE@EXAMPLE.ORG", "  alice@example.org\n", "\talice@EXAMPLE.org "],
)
def test_email_fingerprint_ignores_case_and_surrounding_space(variant: str) -> None:
    assert email_fingerprint(KEY, variant) == email_fingerprint(KEY, "alice@example.org")


@pytest.mark.parametrize("other", ["bob@example.org", "alice@example.com", "alice+x@example.org", "a lice@example.org"])
def test_email_fingerprint_tells_addresses_apart(other: str) -> None:
    assert email_fingerprint(KEY, other) != email_fingerprint(KEY, "alice@example.org")


def test_email_fingerprint_depends_on_key_and_purpose() -> None:
    assert email_fingerprint(KEY, "alice@example.org") != email_fingerprint(OTHER_KEY, "alice@example.org")
    # the purpose label keeps an email fingerprint from ever equalling an identity fingerprint
    assert email_fingerprint(KEY, "alice@example.org") not in {_fp(PART_A), _fp(PART_B)}
