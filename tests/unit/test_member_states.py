"""The member-state table: thresholds, ages, Part A/B and required fields (ECI.md, Annex I and III)."""

from __future__ import annotations

import pytest

from app.eci.fields import COMMON_FIELDS, PART_A_FIELDS, PART_B_FIELDS, STATEMENT_FIELDS, required_fields
from app.eci.member_states import (
    ECI_GOAL,
    ECI_MIN_COUNTRIES,
    ID_TYPES,
    RULE_SETS,
    is_member_state,
    member_states,
    rules_for,
)

# Written out from the spec's eci-member-states.csv (Annex I as replaced by Delegated Regulation (EU) 2024/1082,
# and the 705-MEP table), so that a damaged copy of the data file fails here: code, MEPs 2024, 720-rule, 705-rule.
# fmt: off
EXPECTED = {
    "BE": (22, 15840, 14805), "BG": (17, 12240, 11985), "CZ": (21, 15120, 14805), "DK": (15, 10800, 9870),
    "DE": (96, 69120, 67680), "EE": (7, 5040, 4935), "IE": (14, 10080, 9165), "GR": (21, 15120, 14805),
    "ES": (61, 43920, 41595), "FR": (81, 58320, 55695), "HR": (12, 8640, 8460), "IT": (76, 54720, 53580),
    "CY": (6, 4320, 4230), "LV": (9, 6480, 5640), "LT": (11, 7920, 7755), "LU": (6, 4320, 4230),
    "HU": (21, 15120, 14805), "MT": (6, 4320, 4230), "NL": (31, 22320, 20445), "AT": (20, 14400, 13395),
    "PL": (53, 38160, 36660), "PT": (21, 15120, 14805), "RO": (33, 23760, 23265), "SI": (9, 6480, 5640),
    "SK": (15, 10800, 9870), "FI": (15, 10800, 9870), "SE": (21, 15120, 14805),
}
# fmt: on
AGE_16 = {"AT", "BE", "DE", "EE", "FI", "MT"}
AGE_17 = {"GR"}
PART_A = {"DE", "DK", "FI", "FR", "GR", "IE", "LU", "NL", "SK"}
ALL = sorted(EXPECTED)


def test_all_27_states_load_in_protocol_order() -> None:
    states = member_states()
    assert len(states) == 27
    assert list(states) == list(EXPECTED)  # the table's (protocol) order is kept
    assert all(code == state.code for code, state in states.items())


@pytest.mark.parametrize("code", ALL)
def test_thresholds_match_the_table(code: str) -> None:
    meps, t720, t705 = EXPECTED[code]
    state = rules_for(code)
    assert (state.meps, state.threshold_720, state.threshold_705) == (meps, t720, t705)
    assert state.threshold("eci-2024") == t720 == meps * 720  # Annex I: MEPs x 720
    assert state.threshold("eci-2020") == t705
    assert t705 % 705 == 0


def test_parliament_sizes_add_up() -> None:
    states = member_states().values()
    assert sum(s.meps for s in states) == 720
    assert sum(s.threshold_705 for s in states) == 705 * 705  # 705 MEPs, each x 705
    assert (ECI_GOAL, ECI_MIN_COUNTRIES) == (1_000_000, 7)
    assert set(RULE_SETS) == {"eci-2024", "eci-2020"}


@pytest.mark.parametrize("rule_set", ["", "eci-2019", "ECI-2024", "eci-2024 "])
def test_unknown_rule_set_is_refused(rule_set: str) -> None:
    with pytest.raises(ValueError, match="unknown rule set"):
        rules_for("DE").threshold(rule_set)


@pytest.mark.parametrize("code", ALL)
def test_min_age(code: str) -> None:
    expected = 16 if code in AGE_16 else 17 if code in AGE_17 else 18
    assert rules_for(code).min_age == expected


def test_part_a_states_are_exactly_the_annex_iii_list() -> None:
    assert {code for code, s in member_states().items() if s.data_part == "A"} == PART_A
    assert {s.data_part for s in member_states().values()} == {"A", "B"}


@pytest.mark.parametrize("code", ALL)
def test_id_types_only_for_part_b(code: str) -> None:
    state = rules_for(code)
    if code in PART_A:
        assert state.id_types == ()
    else:
        assert state.id_types, f"{code} must list its documents"
        assert set(state.id_types) <= set(ID_TYPES)
        assert state.id_document_names


@pytest.mark.parametrize("code", ALL)
def test_required_fields(code: str) -> None:
    fields = required_fields(code)
    assert fields[:2] == COMMON_FIELDS == ("first_names", "family_names")
    if code in PART_A:
        assert set(fields) == {
            "first_names",
            "family_names",
            "date_of_birth",
            "street",
            "postal_code",
            "city",
            "residence_country",
        }
        assert not set(fields) & set(PART_B_FIELDS)
    else:
        assert set(fields) == {"first_names", "family_names", "id_type", "id_number"}
        assert not set(fields) & set(PART_A_FIELDS)
    assert set(fields) <= set(STATEMENT_FIELDS)
    assert len(set(fields)) == len(fields)


def test_required_fields_accepts_lower_case() -> None:
    assert required_fields("pl") == required_fields("PL")


@pytest.mark.parametrize("code", ["", "XX", "UK", "GB", "EL", "CH", "NO", "IS", "EU", "D", "DEU", " DE"])
def test_rules_for_rejects_non_members(code: str) -> None:
    with pytest.raises(KeyError):
        rules_for(code)
    with pytest.raises(KeyError):
        required_fields(code)
    assert not is_member_state(code)


@pytest.mark.parametrize(("code", "expected"), [("de", True), ("Se", True), ("GR", True), (None, False)])
def test_is_member_state(code: str | None, expected: bool) -> None:
    assert is_member_state(code) is expected


def test_residence_countries_are_countries_not_regions() -> None:
    from app.eci.countries import is_country, residence_countries

    codes = [code for code, _name in residence_countries()]
    assert len(codes) == len(set(codes)) and 240 <= len(codes) <= 252
    for code in ("DE", "US", "CH", "GB", "RS", "XK"):
        assert is_country(code), code
    for code in ("ZZ", "EU", "UN", "QO", "de", "D", ""):
        assert not is_country(code), code


def test_country_lists_sort_as_their_readers_expect() -> None:
    """Accents aside, and letters of their own beside their base letter (a Polish list: Łotwa near Litwa)."""
    from app.eci.countries import residence_countries

    polish = [name for _code, name in residence_countries("pl")]
    assert polish.index("Litwa") < polish.index("Łotwa") < polish.index("Macedonia Północna")
    assert polish.index("Słowacja") < polish.index("Szwecja")
    german = [name for _code, name in residence_countries("de")]
    assert german.index("Oman") < german.index("Österreich") < german.index("Pakistan")
