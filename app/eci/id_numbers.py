"""National identity numbers: checked with python-stdnum where a check digit exists, else a shape check.

Where the number encodes a birth date (PESEL, CNP, EGN, EMSO, personnummer, isikukood, asmens kodas, personas
kods, the Belgian national register number), the age is read from it (ECI.md, Annex III).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from types import ModuleType

from stdnum.be import nn
from stdnum.bg import egn
from stdnum.ee import ik
from stdnum.es import dni
from stdnum.exceptions import ValidationError
from stdnum.hr import oib
from stdnum.lt import asmens
from stdnum.lv import pvn
from stdnum.pl import pesel
from stdnum.pt import cc
from stdnum.ro import cnp
from stdnum.se import personnummer
from stdnum.si import emso

from .normalize import normalize_document_number


@dataclass(frozen=True)
class NumberRule:
    module: ModuleType
    encodes_birth_date: bool
    # some valid numbers carry no date: Latvian codes issued since 1 July 2017 ("32..."), Lithuanian ones starting 9,
    # Belgian ones with an unknown birth month or day
    birth_date_optional: bool = False


# (country, id_type) -> the stdnum module with the check digit; anything not here gets the shape check.
CHECKED_NUMBERS: dict[tuple[str, str], NumberRule] = {
    ("BE", "personal_number"): NumberRule(nn, True, birth_date_optional=True),
    ("BG", "personal_number"): NumberRule(egn, True),
    ("EE", "personal_number"): NumberRule(ik, True),
    ("HR", "personal_number"): NumberRule(oib, False),
    ("LV", "personal_number"): NumberRule(pvn, True, birth_date_optional=True),
    ("LT", "personal_number"): NumberRule(asmens, True, birth_date_optional=True),
    ("PL", "personal_number"): NumberRule(pesel, True),
    ("RO", "personal_number"): NumberRule(cnp, True),
    ("SI", "personal_number"): NumberRule(emso, True),
    ("SE", "personal_number"): NumberRule(personnummer, True),
    ("ES", "id_card"): NumberRule(dni, False),
    ("PT", "citizen_card"): NumberRule(cc, False),
}

# Passports and identity cards across the EU: Latin letters and digits, 5 to 20 of them once separators are gone.
_SHAPE = re.compile(r"[A-Z0-9]{5,20}")


class InvalidNumber(ValueError):
    """The number cannot be the document it claims to be."""


def validate_number(country: str, id_type: str, number: str) -> str:
    """Return the normalized number, or raise InvalidNumber."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    compact = normalize_document_number(number)
    if rule is None:
        # letters are checked before upper-casing, which would turn "ß" into "SS"; separators such as an en dash
        # or a no-break space are not alphanumeric, so they pass here and are gone from `compact`
        letters = unicodedata.normalize("NFKC", number)
        if not _SHAPE.fullmatch(compact) or not all(ch.isascii() for ch in letters if ch.isalnum()):
            raise InvalidNumber("shape")
        return compact
    try:
        compact = rule.module.validate(compact)
    except ValidationError as error:
        raise InvalidNumber(type(error).__name__) from error
    if rule.module is pvn and compact[:1] not in "0123":
        raise InvalidNumber("not a personal code")  # pvn also accepts company VAT numbers
    if rule.module is cc:
        # stdnum accepts a civil number of any length; the card prints 8 digits, a check digit, a 2-character version
        # and a check digit. Accept a civil number written with 6 to 8 digits (leading zeros dropped) and key it on
        # 12 characters: leading zeros do not change the check, so "1234567 ..." and "01234567 ..." are one card.
        if not 10 <= len(compact) <= 12:
            raise InvalidNumber("InvalidLength")
        return compact.rjust(12, "0")
    if rule.module is personnummer:
        # 10 and 12 digits ("880320-0016", "19880320-0016") are one number: key it on the full birth date
        digits = normalize_document_number(compact).replace("+", "")
        return f"{personnummer.get_birth_date(compact):%Y%m%d}{digits[-4:]}"
    return normalize_document_number(compact)


def birth_date_from_number(country: str, id_type: str, number: str) -> date | None:
    """The birth date a valid number encodes, or None for an invalid number or one that encodes no date."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    if rule is None or not rule.encodes_birth_date:
        return None
    try:
        birth: date | None = rule.module.get_birth_date(rule.module.validate(normalize_document_number(number)))
    except (ValidationError, ValueError):
        return None  # e.g. Latvian codes issued since 2017 carry no birth date
    return birth  # None for a Belgian number whose birth month or day is unknown


def needs_age_confirmation(country: str, id_type: str, number: str | None = None) -> bool:
    """True where the number does not tell the age, so the signer ticks the box instead.

    Without a number: True wherever some valid number of that type may carry no birth date, so that the form
    offers the box to a Latvian with a post-2017 code. With a number: True exactly when it yields no birth date.
    """
    if number is not None:
        return birth_date_from_number(country, id_type, number) is None
    rule = CHECKED_NUMBERS.get((country, id_type))
    return rule is None or not rule.encodes_birth_date or rule.birth_date_optional


def never_tells_age(country: str, id_type: str) -> bool:
    """True where no number of this document carries a birth date: the age box is always needed."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    return rule is None or not rule.encodes_birth_date
