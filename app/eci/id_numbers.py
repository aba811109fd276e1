"""National identity numbers: checked with python-stdnum where a check digit exists, else a shape check.

Where the number encodes a birth date (PESEL, CNP, EGN, EMSO, personnummer, isikukood, asmens kodas, personas
kods), the age is read from it (ECI.md, Annex III).
"""

from __future__ import annotations

import re
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


# (country, id_type) -> the stdnum module with the check digit; anything not here gets the shape check.
CHECKED_NUMBERS: dict[tuple[str, str], NumberRule] = {
    ("BE", "personal_number"): NumberRule(nn, False),
    ("BG", "personal_number"): NumberRule(egn, True),
    ("EE", "personal_number"): NumberRule(ik, True),
    ("HR", "personal_number"): NumberRule(oib, False),
    ("LV", "personal_number"): NumberRule(pvn, True),
    ("LT", "personal_number"): NumberRule(asmens, True),
    ("PL", "personal_number"): NumberRule(pesel, True),
    ("RO", "personal_number"): NumberRule(cnp, True),
    ("SI", "personal_number"): NumberRule(emso, True),
    ("SE", "personal_number"): NumberRule(personnummer, True),
    ("ES", "id_card"): NumberRule(dni, False),
    ("PT", "citizen_card"): NumberRule(cc, False),
}

# Passports and identity cards across the EU: letters and digits, 5 to 20 of them once separators are gone.
_SHAPE = re.compile(r"^[A-Z0-9]{5,20}$")


class InvalidNumber(ValueError):
    """The number cannot be the document it claims to be."""


def validate_number(country: str, id_type: str, number: str) -> str:
    """Return the normalized number, or raise InvalidNumber."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    if rule is None:
        compact = normalize_document_number(number)
        if not _SHAPE.match(compact):
            raise InvalidNumber("shape")
        return compact
    try:
        compact = rule.module.validate(number)
    except ValidationError as error:
        raise InvalidNumber(type(error).__name__) from error
    if country == "LV" and compact[:1] not in "0123":
        raise InvalidNumber("not a personal code")  # pvn also accepts company VAT numbers
    if country == "SE":
        # 10 and 12 digits ("880320-0016", "19880320-0016") are one number: key it on the full birth date
        digits = normalize_document_number(compact).replace("+", "")
        return f"{personnummer.get_birth_date(compact):%Y%m%d}{digits[-4:]}"
    return normalize_document_number(compact)


def birth_date_from_number(country: str, id_type: str, number: str) -> date | None:
    """The birth date a valid number encodes, or None where it encodes none (or only partly)."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    if rule is None or not rule.encodes_birth_date:
        return None
    try:
        return rule.module.get_birth_date(number)
    except (ValidationError, ValueError):
        return None  # e.g. Latvian codes issued since 2017 carry no birth date


def needs_age_confirmation(country: str, id_type: str) -> bool:
    """True where the number can never tell the age, so the signer ticks the box instead."""
    rule = CHECKED_NUMBERS.get((country, id_type))
    return rule is None or not rule.encodes_birth_date
