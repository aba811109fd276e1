"""Age on the day of signing (ECI.md: judged on the UTC date; born that day 16 years earlier is 16)."""

from __future__ import annotations

from datetime import date


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`; someone born on 29 February turns a year older on 1 March in common years."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def old_enough(birth: date, day: date, min_age: int) -> bool:
    return age_on(birth, day) >= min_age
