"""Country names in every language from Babel's locale data (CLDR), never a hand-written list; and the countries
a Part A signer may live in (Annex III asks for the country of residence, not an EU one)."""

from __future__ import annotations

from functools import cache

from babel import Locale

from .normalize import normalize_name

# Babel's territory list also holds regions and codes that are not countries of ISO 3166-1 (reserved, user-assigned
# or groupings); Kosovo (XK) stays, as it is in common use for addresses.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})


@cache
def _territories(locale: str) -> dict[str, str]:
    return dict(Locale.parse(locale).territories)


def country_name(code: str, locale: str = "en") -> str:
    """The country's name in `locale` ("DE" in Polish: "Niemcy"), or the code where CLDR has none."""
    return _territories(locale).get(code) or _territories("en").get(code) or code


# Letters that are not a base letter with an accent, so Unicode cannot take the accent off: sorted beside their
# base letter, as a reader of a list expects to find them (Łotwa beside Litwa, not after Włochy).
_OWN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ß": "ss", "æ": "ae", "œ": "oe"})


def sort_key(name: str) -> tuple[str, str]:
    """How a list of names sorts in any language without a collation library: accents aside, then as written."""
    return normalize_name(name).translate(_OWN_LETTERS), name


@cache
def residence_countries(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(alpha-2 code, name) for every country, sorted by name in `locale` (accents aside: Österreich near Oman)."""
    names = _territories(locale)
    pairs = [
        (code, name) for code, name in names.items() if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(pairs, key=lambda pair: sort_key(pair[1])))


@cache
def _codes() -> frozenset[str]:
    return frozenset(code for code, _name in residence_countries())


def is_country(code: str) -> bool:
    return code in _codes()
