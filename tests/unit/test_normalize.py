"""The normalization of ECI.md ("The same person twice"), tried on real names, numbers and postal codes."""

from __future__ import annotations

import unicodedata

import pytest

from app.eci.normalize import normalize_document_number, normalize_name, normalize_postal_code


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Each group: spellings of one name that must normalize alike, and what they normalize to.
SAME_NAME = [
    (["Zoë", "ZOE", "zoe", "Zoe", "ZOË", _nfd("Zoë"), _nfc("Zoë"), "Ｚｏë"], "zoe"),
    (
        ["Jean-Luc", "Jean Luc", "jean  luc", "JEAN-LUC", "Jean–Luc", "Jean\u2011Luc", "jean - luc", "Jean\tLuc"],
        "jean luc",
    ),
    (["O'Brien", "O’Brien", "O Brien", "o'brien", "O‘Brien", "Oʼ Brien", "O´Brien", "O`Brien", "O''Brien"], "o brien"),
    (["  Zoë ", "\tZoë\n", "Zoë\u00a0", "\u3000Zoë"], "zoe"),  # ends trimmed, no-break and ideographic spaces too
    (["Straße", "STRASSE", "Strasse", "straße", "STRAẞE"], "strasse"),  # casefold turns ß (and ẞ) into ss
    (["Łukasz", "ŁUKASZ", "łukasz", "Lukasz", "LUKASZ"], "lukasz"),  # the stroke counts as an accent
    (["Wałęsa", "WAŁĘSA", "Walesa", _nfd("Wałęsa")], "walesa"),
    (["Søren", "SØREN", "Soren"], "soren"),  # Danish (Part A)
    (["Đurđević", "ĐURĐEVIĆ", "Durdevic", _nfd("Đurđević")], "durdevic"),
    (["Ħamrun", "Hamrun"], "hamrun"),
    (["François", "FRANÇOIS", "Francois", _nfd("François")], "francois"),
    (["Müller-Lüdenscheidt", "Muller Ludenscheidt", "müller  lüdenscheidt"], "muller ludenscheidt"),
    (["Dvořák", "DVOŘÁK", "Dvorak", _nfd("Dvořák")], "dvorak"),
    (["Ľudovít Štúr", "ĽUDOVÍT ŠTÚR", "Ludovit Stur"], "ludovit stur"),  # Slovak (Part A)
    (["Σοφία", "ΣΟΦΊΑ", "ΣΟΦΙΑ", "σοφια", _nfd("Σοφία")], "σοφια"),  # Greek (Part A): tonos removed
    (["Παπαδόπουλος", "ΠΑΠΑΔΟΠΟΥΛΟΣ", "Παπαδοπουλοσ"], "παπαδοπουλοσ"),  # final sigma folds to σ
    (["Ὀδυσσεύς", "ΟΔΥΣΣΕΥΣ"], "οδυσσευσ"),  # polytonic breathing and accent removed
    (["Иванова", "ИВАНОВА", "иванова"], "иванова"),  # Cyrillic keeps its script
    (["Ёлкин", "Елкин", "ЁЛКИН"], "елкин"),  # ё is е with a diaeresis
    (["Йорданов", "Иорданов"], "иорданов"),  # й loses its breve like any accent (documented choice)
    (["Zoë\u200b", "Zo\u00adë", "\ufeffZoë", "Zoë\u200e"], "zoe"),  # invisible characters from copy and paste
    (["ﬁona", "Fiona"], "fiona"),  # NFKC: ligature ﬁ
    (["María José", "MARIA JOSE", "maria-jose"], "maria jose"),
]


@pytest.mark.parametrize(("spellings", "expected"), SAME_NAME, ids=[group[1] for group in SAME_NAME])
def test_spellings_of_one_name_normalize_alike(spellings: list[str], expected: str) -> None:
    assert {normalize_name(spelling) for spelling in spellings} == {expected}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Zoë", "Zoey"),
        ("Jean-Luc", "Jeanluc"),  # a hyphen separates words; it is not simply deleted
        ("O'Brien", "OBrien"),
        ("Anna", "Hanna"),
        ("Σοφία", "Sofia"),  # no transliteration between scripts
        ("Иванова", "Ivanova"),
        ("Иванова", "Иванов"),
        ("Æsa", "Aesa"),  # ligatures are letters, not accents: æ and œ are kept
        ("Œuvre", "Oeuvre"),
        ("Müller", "Mueller"),  # accents are removed, not transliterated: German ü -> ue is not applied
    ],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalize_name(a) != normalize_name(b)


@pytest.mark.parametrize("name", ["Łukasz Żółć", "Jean-Luc O’Brien", "Σοφία", "Ёлкин", "Straße", "  ", "", "ǅemal"])
def test_normalization_is_idempotent(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once
    assert once == once.strip()
    assert "  " not in once


def test_no_combining_marks_survive_in_latin_greek_cyrillic() -> None:
    for codepoint in range(0x00C0, 0x0530):  # Latin-1 Supplement to Cyrillic Supplement
        text = normalize_name(f"a{chr(codepoint)}b")
        assert not any(unicodedata.combining(ch) for ch in text), hex(codepoint)
        assert normalize_name(text) == text, hex(codepoint)


def test_empty_and_separator_only_names_normalize_to_empty() -> None:
    assert normalize_name("") == ""
    assert normalize_name(" - ' ’ ") == ""


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["75001", "75 001", "75.001", " 75001 ", "75-001"], "75001"),
        (["D02 X285", "d02-x285", "D02X285", "d02 x285", "D02.X285"], "D02X285"),  # Irish Eircode
        (["1012 AB", "1012ab", "1012-AB"], "1012AB"),  # Dutch
        (["L-1234", "l 1234"], "L1234"),  # Luxembourg, with its country letter
        (["00-950", "00950", "00 950"], "00950"),  # leading zeros are kept
        (["１０１１５", "10115", "10115\u200b"], "10115"),  # full-width digits, zero-width space
    ],
)
def test_postal_codes(spellings: list[str], expected: str) -> None:
    assert {normalize_postal_code(spelling) for spelling in spellings} == {expected}


def test_postal_codes_stay_different() -> None:
    assert normalize_postal_code("75001") != normalize_postal_code("75010")
    assert normalize_postal_code("1234") != normalize_postal_code("L-1234")  # a prefix is not guessed away


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["ab 12.345-6", "AB123456", "ab/12/345/6", "AB–123456", " ab123456 "], "AB123456"),
        (["CA 00000 AA", "ca00000aa", "CA.00000.AA"], "CA00000AA"),
        (["C01X00T47", "c01x00t47"], "C01X00T47"),
    ],
)
def test_document_numbers(spellings: list[str], expected: str) -> None:
    assert {normalize_document_number(spelling) for spelling in spellings} == {expected}


def test_document_number_keeps_what_is_not_a_separator() -> None:
    # the shape check, not the normalization, refuses these (see test_id_numbers)
    assert normalize_document_number("811228+9841") == "811228+9841"
    assert normalize_document_number("AB_1") == "AB_1"
