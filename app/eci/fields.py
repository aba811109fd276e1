"""Which fields a statement needs, by the signer's member state (Annex III, Part A or Part B)."""

from __future__ import annotations

from .member_states import rules_for

COMMON_FIELDS = ("first_names", "family_names")
PART_A_FIELDS = ("date_of_birth", "street", "postal_code", "city", "residence_country")
PART_B_FIELDS = ("id_type", "id_number")

STATEMENT_FIELDS = COMMON_FIELDS + PART_A_FIELDS + PART_B_FIELDS
"""Every personal field a statement can hold, in the order of the export's CSV columns."""


def required_fields(country: str) -> tuple[str, ...]:
    """The personal fields a citizen of `country` must give (age_confirm is decided by the number)."""
    part = rules_for(country).data_part
    return COMMON_FIELDS + (PART_A_FIELDS if part == "A" else PART_B_FIELDS)
