"""Member states and their rules, read once from the project's own copy of the ECI table."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

RULE_SETS = ("eci-2024", "eci-2020")
"""`eci-2024`: thresholds for 720 MEPs (initiatives registered from 16 July 2024); `eci-2020`: 705 MEPs."""

ID_TYPES = ("personal_number", "id_card", "passport", "citizen_card")

# Annex I of Regulation (EU) 2019/788: at least 1,000,000 statements, in at least a quarter of the member states.
ECI_GOAL = 1_000_000
ECI_MIN_COUNTRIES = 7


@dataclass(frozen=True)
class MemberState:
    code: str
    name: str
    meps: int
    threshold_720: int
    threshold_705: int
    min_age: int
    data_part: str  # "A" (residence and date of birth) or "B" (an identity document), Annex III
    id_types: tuple[str, ...]
    id_document_names: str

    def threshold(self, rule_set: str) -> int:
        """The minimum number of signatories for this state under a rule set (Annex I)."""
        if rule_set == "eci-2020":
            return self.threshold_705
        if rule_set == "eci-2024":
            return self.threshold_720
        raise ValueError(f"unknown rule set {rule_set!r}")


@cache
def member_states() -> dict[str, MemberState]:
    """All 27 member states keyed by ISO 3166-1 alpha-2 code, in the table's (protocol) order."""
    text = resources.files("app.eci").joinpath("data/member_states.csv").read_text(encoding="utf-8")
    states: dict[str, MemberState] = {}
    for row in csv.DictReader(text.splitlines()):
        states[row["country_code"]] = MemberState(
            code=row["country_code"],
            name=row["country_name"],
            meps=int(row["meps_2024"]),
            threshold_720=int(row["min_signatories_720"]),
            threshold_705=int(row["min_signatories_705"]),
            min_age=int(row["min_age"]),
            data_part=row["data_part"],
            id_types=tuple(t for t in row["id_types"].split("|") if t),
            id_document_names=row["id_document_names"],
        )
    return states


def rules_for(code: str) -> MemberState:
    """The rules of one member state; KeyError for anything that is not one."""
    return member_states()[code.upper()]


def is_member_state(code: str | None) -> bool:
    return bool(code) and code.upper() in member_states()


@dataclass(frozen=True)
class IdDocument:
    """A national document a Part B signer names (Annex III), as the country calls it, with its number's shape."""

    country: str
    id_type: str
    name: str  # in the country's own language(s): PESEL, DNI, Rijksregisternummer, ...
    pattern: str  # the number's shape, 9 for a digit and A for a letter ("" where documents vary)
    digits: int | None  # how many digits a number of digits only has, where that is fixed


@cache
def id_documents() -> dict[tuple[str, str], IdDocument]:
    """Every (country, id_type) a Part B member state accepts, read once from the project's data file."""
    text = resources.files("app.eci").joinpath("data/id_documents.csv").read_text(encoding="utf-8")
    return {
        (row["country_code"], row["id_type"]): IdDocument(
            country=row["country_code"],
            id_type=row["id_type"],
            name=row["name"],
            pattern=row["pattern"],
            digits=int(row["digits"]) if row["digits"] else None,
        )
        for row in csv.DictReader(text.splitlines())
    }
