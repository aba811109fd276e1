"""Age on the UTC day of signing (ECI.md: a person born on that day 16 years earlier is 16)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.eci.age import age_on, old_enough

BIRTH = date(2008, 6, 15)


@pytest.mark.parametrize("min_age", [16, 17, 18])
@pytest.mark.parametrize(("offset", "expected"), [(-1, False), (0, True), (1, True)])
def test_birthday_boundary(min_age: int, offset: int, expected: bool) -> None:
    birthday = BIRTH.replace(year=BIRTH.year + min_age)
    day = birthday + timedelta(days=offset)
    assert old_enough(BIRTH, day, min_age) is expected
    assert age_on(BIRTH, day) == (min_age if expected else min_age - 1)


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2024, 2, 28), 15),  # leap year, the day before
        (date(2024, 2, 29), 16),  # leap year, on the birthday
        (date(2024, 3, 1), 16),
        (date(2025, 2, 28), 16),  # common year: not yet 17 on 28 February...
        (date(2025, 3, 1), 17),  # ...but on 1 March
        (date(2027, 2, 28), 18),
        (date(2027, 3, 1), 19),
    ],
)
def test_born_on_29_february(day: date, age: int) -> None:
    assert age_on(date(2008, 2, 29), day) == age


def test_born_29_february_signs_on_common_year_boundaries() -> None:
    birth = date(2008, 2, 29)
    assert not old_enough(birth, date(2026, 2, 28), 18)
    assert old_enough(birth, date(2026, 3, 1), 18)
    assert not old_enough(birth, date(2025, 2, 28), 17)
    assert old_enough(birth, date(2025, 3, 1), 17)


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2008, 1, 1), date(2024, 1, 1), 16),  # born and signing on 1 January
        (date(2008, 1, 2), date(2024, 1, 1), 15),
        (date(2007, 12, 31), date(2024, 1, 1), 16),
        (date(2008, 12, 31), date(2024, 12, 31), 16),  # born and signing on 31 December
        (date(2008, 12, 31), date(2024, 12, 30), 15),
        (date(2009, 1, 1), date(2024, 12, 31), 15),
        (date(2008, 12, 31), date(2025, 1, 1), 16),
    ],
)
def test_new_year_boundaries(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age
    assert old_enough(birth, day, 16) is (age >= 16)


def test_born_today_is_zero_and_not_old_enough() -> None:
    today = date(2025, 7, 1)
    assert age_on(today, today) == 0
    assert not old_enough(today, today, 16)


def test_birth_after_signing_day_is_never_old_enough() -> None:
    assert age_on(date(2030, 1, 1), date(2025, 1, 1)) < 0
    assert not old_enough(date(2030, 1, 1), date(2025, 1, 1), 16)
