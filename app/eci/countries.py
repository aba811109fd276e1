"""Countries of residence: a Part A signer may live anywhere (Annex III asks for the country, not an EU one)."""

from __future__ import annotations

from functools import cache

from babel import Locale

# Babel's territory list also holds regions and codes that are not countries of ISO 3166-1 (reserved, user-assigned
# or groupings); Kosovo (XK) stays, as it is in common use for addresses.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})


@cache
def residence_countries(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(alpha-2 code, name) for every country, sorted by name in `locale`."""
    names = Locale.parse(locale).territories
    pairs = [
        (code, name) for code, name in names.items() if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(pairs, key=lambda pair: pair[1]))


def is_country(code: str) -> bool:
    return any(code == known for known, _name in residence_countries())
