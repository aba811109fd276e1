"""National numbers: stdnum check digits, birth dates read from them, and the shape check for other documents."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.be import nn
from stdnum.lv import pvn
from stdnum.pt import cc

from app.eci.id_numbers import (
    CHECKED_NUMBERS,
    InvalidNumber,
    birth_date_from_number,
    needs_age_confirmation,
    validate_number,
)
from app.eci.member_states import member_states

# Valid numbers from python-stdnum's own doctests (stdnum/<cc>/<module>.py), as typed, and their normalized form.
VALID = {
    ("BE", "personal_number"): [("85.07.30-033 28", "85073003328"), ("17 07 30 033 84", "17073003384")],
    ("BG", "personal_number"): [("8032056031", "8032056031"), ("752316 926 3", "7523169263")],
    ("EE", "personal_number"): [("36805280109", "36805280109")],
    ("HR", "personal_number"): [("HR 33392005961", "33392005961"), ("33392005961", "33392005961")],
    ("LV", "personal_number"): [("161175-19997", "16117519997"), ("328673-00679", "32867300679")],
    ("LT", "personal_number"): [("33309240064", "33309240064")],
    ("PL", "personal_number"): [("44051401359", "44051401359"), ("02211307589", "02211307589")],
    ("RO", "personal_number"): [("1630615123457", "1630615123457")],
    ("SI", "personal_number"): [("0101006500006", "0101006500006")],
    ("SE", "personal_number"): [("880320-0016", "198803200016"), ("811228-9841", "198112289841")],
    ("ES", "id_card"): [("54362315-K", "54362315K"), ("54362315k", "54362315K")],
    ("PT", "citizen_card"): [("00000000 0 ZZ4", "000000000ZZ4"), ("00000000 0 zz4", "000000000ZZ4")],
}
# Invalid ones from the same doctests (bad check digit, bad date, bad format).
INVALID = {
    ("BE", "personal_number"): ["12345678901"],
    ("BG", "personal_number"): ["7552A10004", "8019010008"],
    ("EE", "personal_number"): ["36805280108"],
    ("HR", "personal_number"): ["33392005962"],
    ("LV", "personal_number"): ["40003521601", "161375-19997", "328673-00677"],
    ("LT", "personal_number"): ["33309240164"],
    ("PL", "personal_number"): ["44051401358", "02381307589"],
    ("RO", "personal_number"): ["0800101221142", "1632215123457", "1630615993454", "1630615123458"],
    ("SI", "personal_number"): ["0101006500007"],
    ("SE", "personal_number"): ["880320-0018"],
    ("ES", "id_card"): ["54362315Z", "54362315"],
    ("PT", "citizen_card"): ["00000000 A ZZ4", "00000000 0 ZZ3"],
}
CASES = sorted(CHECKED_NUMBERS)


def _first_valid(key: tuple[str, str]) -> str:
    return VALID[key][0][1]


def test_every_checked_number_has_test_cases() -> None:
    assert set(VALID) == set(CHECKED_NUMBERS) == set(INVALID)


def test_checked_numbers_are_documents_their_states_accept() -> None:
    for country, id_type in CHECKED_NUMBERS:
        assert id_type in member_states()[country].id_types


@pytest.mark.parametrize(
    ("key", "typed", "normalized"), [(key, typed, norm) for key in CASES for typed, norm in VALID[key]]
)
def test_valid_numbers(key: tuple[str, str], typed: str, normalized: str) -> None:
    assert validate_number(*key, typed) == normalized
    assert validate_number(*key, normalized) == normalized  # validating the stored form is stable


@pytest.mark.parametrize(("key", "number"), [(key, number) for key in CASES for number in INVALID[key]])
def test_invalid_numbers_from_stdnum_docs(key: tuple[str, str], number: str) -> None:
    with pytest.raises(InvalidNumber):
        validate_number(*key, number)


@pytest.mark.parametrize("key", CASES)
def test_any_other_last_digit_is_refused(key: tuple[str, str]) -> None:
    number = _first_valid(key)
    for digit in "0123456789":
        if digit != number[-1]:
            with pytest.raises(InvalidNumber):
                validate_number(*key, number[:-1] + digit)


FIXED_LENGTH = [key for key in CASES if key != ("PT", "citizen_card")]


@pytest.mark.parametrize("key", FIXED_LENGTH)
def test_wrong_length_is_refused(key: tuple[str, str]) -> None:
    number = _first_valid(key)
    for wrong in (number[:-1], number[1:], number + "0", "0" + number, "", number[:3]):
        with pytest.raises(InvalidNumber):
            validate_number(*key, wrong)


def test_portuguese_card_leading_zeros_are_one_card() -> None:
    # stdnum.pt.cc takes a civil number of any length and its check ignores leading zeros
    civil_7 = "1234567" + "0ZZ"
    civil_7 += cc.calc_check_digit(civil_7)
    assert validate_number("PT", "citizen_card", civil_7) == "0" + civil_7
    assert validate_number("PT", "citizen_card", "0" + civil_7) == "0" + civil_7
    assert validate_number("PT", "citizen_card", "0000000 0 ZZ4") == "000000000ZZ4"


@pytest.mark.parametrize("number", ["ZZ4", "0ZZ4", "00000 0 ZZ4", "000000000 0 ZZ4", "1000000000ZZ3", "000000000ZZ"])
def test_portuguese_card_of_impossible_length(number: str) -> None:
    if number != "000000000ZZ":
        assert cc.is_valid(number)  # stdnum takes it, but no card has that many characters
    with pytest.raises(InvalidNumber):
        validate_number("PT", "citizen_card", number)


@pytest.mark.parametrize("key", CASES)
def test_letters_are_refused(key: tuple[str, str]) -> None:
    number = _first_valid(key)
    for wrong in ("A" + number[1:], number[:4] + "X" + number[5:], "ABCDEFGHIJK"):
        with pytest.raises(InvalidNumber):
            validate_number(*key, wrong)


@pytest.mark.parametrize(
    ("key", "number"),
    [
        (("PL", "personal_number"), "440 514 013 59"),
        (("PL", "personal_number"), "44051401359\u200b"),  # zero-width space pasted with the number
        (("PL", "personal_number"), "４４０５１４０１３５９"),  # full-width digits (NFKC)
        (("RO", "personal_number"), "1-630615-123457"),
        (("SE", "personal_number"), "880320 0016"),
    ],
)
def test_typing_variants_of_checked_numbers(key: tuple[str, str], number: str) -> None:
    assert validate_number(*key, number) == validate_number(*key, VALID[key][0][0])


# Birth dates: the stdnum doctests, plus numbers built with stdnum's calc_check_digit for births in the 2000s.
BIRTH_DATES = [
    ("PL", "44051401359", date(1944, 5, 14)),
    ("PL", "02211307589", date(2002, 1, 13)),
    ("PL", "02122401358", date(1902, 12, 24)),
    ("PL", "10320512345", date(2010, 12, 5)),
    ("RO", "1630615123457", date(1963, 6, 15)),
    ("RO", "5100305123451", date(2010, 3, 5)),
    ("BG", "8032056031", date(1880, 12, 5)),
    ("BG", "1043051234", date(2010, 3, 5)),
    ("SI", "0101006500006", date(2006, 1, 1)),
    ("SE", "880320-0016", date(1988, 3, 20)),
    ("SE", "19880320-0016", date(1988, 3, 20)),
    ("SE", "811228-9841", date(1981, 12, 28)),
    ("EE", "36805280109", date(1968, 5, 28)),
    ("EE", "51003051239", date(2010, 3, 5)),
    ("LT", "33309240064", date(1933, 9, 24)),
    ("LT", "51003051239", date(2010, 3, 5)),
    ("LV", "161175-19997", date(1975, 11, 16)),
]


@pytest.mark.parametrize(("country", "number", "birth"), BIRTH_DATES)
def test_birth_date_read_from_number(country: str, number: str, birth: date) -> None:
    normalized = validate_number(country, "personal_number", number)
    assert birth_date_from_number(country, "personal_number", number) == birth
    assert birth_date_from_number(country, "personal_number", normalized) == birth
    assert needs_age_confirmation(country, "personal_number", number) is False


@pytest.mark.parametrize(
    "forms",
    [
        ["880320-0016", "8803200016", "19880320-0016", "198803200016", " 19880320 0016 "],
        ["811228-9841", "19811228-9841", "198112289841"],
    ],
)
def test_personnummer_10_and_12_digits_are_one_key(forms: list[str]) -> None:
    keys = {validate_number("SE", "personal_number", form) for form in forms}
    assert len(keys) == 1
    assert len(keys.pop()) == 12


def test_personnummer_plus_sign_means_a_century_earlier() -> None:
    # the "+" separator marks someone aged 100 or more: a different person from the "-" form
    assert validate_number("SE", "personal_number", "811228+9841") == "188112289841"
    assert birth_date_from_number("SE", "personal_number", "811228+9841") == date(1881, 12, 28)


@pytest.mark.parametrize("number", ["328673-00679", "32867300679"])
def test_new_latvian_code_has_no_birth_date(number: str) -> None:
    assert validate_number("LV", "personal_number", number) == "32867300679"
    assert birth_date_from_number("LV", "personal_number", number) is None
    assert needs_age_confirmation("LV", "personal_number", number) is True


def test_lithuanian_code_starting_9_has_no_birth_date() -> None:
    assert validate_number("LT", "personal_number", "90000000009") == "90000000009"
    assert birth_date_from_number("LT", "personal_number", "90000000009") is None
    assert needs_age_confirmation("LT", "personal_number", "90000000009") is True


@pytest.mark.parametrize("number", ["40003521600", "LV 4000 3521 600", "50003521602", "70003521606", "90003521614"])
def test_latvian_company_numbers_are_not_personal_codes(number: str) -> None:
    assert pvn.is_valid(number)  # a real VAT number...
    with pytest.raises(InvalidNumber, match="not a personal code"):
        validate_number("LV", "personal_number", number)  # ...but not a person's
    assert birth_date_from_number("LV", "personal_number", number) is None


@pytest.mark.parametrize(
    ("country", "number"),
    [("PL", "44051401358"), ("SE", "880320-0018"), ("EE", "36805280108"), ("RO", "1630615123458"), ("PL", "")],
)
def test_invalid_number_gives_no_birth_date(country: str, number: str) -> None:
    assert birth_date_from_number(country, "personal_number", number) is None
    assert needs_age_confirmation(country, "personal_number", number) is True


# ECI.md, Annex III: the numbers that encode a birth date; everything else needs the signer's checkbox. Latvian codes
# since 2017 and Lithuanian ones starting 9 carry none; a Belgian number may have an unknown birth month or day.
DATED = {"BE", "BG", "EE", "LT", "LV", "PL", "RO", "SE", "SI"}
MAY_BE_UNDATED = {"BE", "LV", "LT"}
PART_B_DOCUMENTS = sorted((code, t) for code, s in member_states().items() for t in s.id_types)


@pytest.mark.parametrize(("country", "id_type"), PART_B_DOCUMENTS)
def test_needs_age_confirmation_without_a_number(country: str, id_type: str) -> None:
    dated = id_type == "personal_number" and country in DATED
    expected = not dated or country in MAY_BE_UNDATED
    assert needs_age_confirmation(country, id_type) is expected


@pytest.mark.parametrize(("key", "number"), [(key, typed) for key in CASES for typed, _ in VALID[key]])
def test_needs_age_confirmation_exactly_when_no_birth_date(key: tuple[str, str], number: str) -> None:
    birth = birth_date_from_number(*key, number)
    assert needs_age_confirmation(*key, number) is (birth is None)
    if key[0] not in DATED:
        assert birth is None  # e.g. a Croatian OIB: no date in it


@pytest.mark.parametrize(
    ("country", "id_type", "number", "normalized"),
    [
        ("IT", "id_card", "CA 00000 AA", "CA00000AA"),
        ("IT", "id_card", "ca00000aa", "CA00000AA"),
        ("IT", "passport", "YA1234567", "YA1234567"),
        ("AT", "id_card", "C01X00T47", "C01X00T47"),
        ("AT", "passport", "P1234567", "P1234567"),
        ("CZ", "id_card", "123456789", "123456789"),
        ("CZ", "passport", "12 345 678", "12345678"),
        ("CY", "id_card", "1234567", "1234567"),
        ("MT", "id_card", "123456M", "123456M"),
        ("HU", "id_card", "123456-AB", "123456AB"),
        ("HU", "personal_number", "1-850412-1234", "18504121234"),
        ("RO", "id_card", "RX 123456", "RX123456"),
        ("PT", "id_card", "1234567.8", "12345678"),
        ("ES", "passport", "PAA123456", "PAA123456"),
        ("CZ", "id_card", "12345", "12345"),  # 5: the shortest accepted
        ("CZ", "id_card", "A" * 20, "A" * 20),  # 20: the longest accepted
        ("IT", "id_card", "CA\u00a000000\u2013AA", "CA00000AA"),  # no-break space and en dash
        ("IT", "id_card", "CA00000AA\u200b", "CA00000AA"),  # zero-width space
        ("IT", "id_card", "ＣＡ０００００ＡＡ", "CA00000AA"),  # full-width (NFKC)
        ("CZ", "passport", "12/345/678", "12345678"),
    ],
)
def test_shape_check_accepts_real_looking_documents(country: str, id_type: str, number: str, normalized: str) -> None:
    assert (country, id_type) not in CHECKED_NUMBERS
    assert validate_number(country, id_type, number) == normalized
    assert birth_date_from_number(country, id_type, number) is None
    assert needs_age_confirmation(country, id_type, number) is True


@pytest.mark.parametrize(
    "number",
    [
        "",
        "   ",
        "1234",  # too short
        "12 34",
        "A" * 21,  # too long
        "1234567890 1234567890 1",
        "-----",
        ".....",
        "/-. -/",
        "!!!!!!",
        "AB12345!",
        "AB_12345",
        "AB#12345",
        "ΑΒ123456",  # Greek capitals that look Latin
        "АВ123456",  # Cyrillic capitals that look Latin
        "ÄB12345",
        "ß12345",  # would upper-case to "SS12345"
        "12345６ä",
        "AB12345\x00",
    ],
)
def test_shape_check_refuses(number: str) -> None:
    with pytest.raises(InvalidNumber, match="shape"):
        validate_number("IT", "id_card", number)


@pytest.mark.parametrize(
    ("number", "birth"),
    [("85.07.30-033 28", date(1985, 7, 30)), ("00000100195", None)],  # the second: birth month and day unknown
)
def test_belgian_number_tells_the_age_when_it_holds_a_full_date(number: str, birth: date | None) -> None:
    assert nn.is_valid(number)
    assert birth_date_from_number("BE", "personal_number", number) == birth
    assert needs_age_confirmation("BE", "personal_number", number) is (birth is None)
