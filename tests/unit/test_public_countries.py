"""The public member-state list: by progress, the signer's own state first when the request says which it is."""

from __future__ import annotations

import pytest

from app.initiatives import CountryProgress, by_progress, signer_country

TAKING_PART = ["BE", "DE", "GR", "FR", "AT", "PL", "FI"]


@pytest.mark.parametrize(
    ("asked", "languages", "own"),
    [
        ("AT", [], "AT"),
        ("at", ["fr-FR"], "AT"),  # the address wins over the browser
        (None, ["de-AT", "de"], "AT"),
        (None, ["de_AT"], "AT"),
        (None, ["de"], None),  # a language is not a country: German is spoken in five member states
        (None, ["el-GR"], "GR"),
        (None, ["sr-Latn-RS", "fr-BE"], "BE"),  # Serbia takes no part; the next preference names Belgium
        (None, ["en-US", "fi-FI"], "FI"),
        (None, ["en-GB"], None),
        (None, ["es-ES"], None),  # Spain is a member state, but not one of this initiative's
        ("GB", ["de-AT"], "AT"),  # a code that is not one of the initiative's is ignored
        ("ES", [], None),
        ("", ["*"], None),
        ("DEU", ["x-DE"], None),  # no region subtag before the private-use one: nothing
    ],
)
def test_the_signers_own_member_state(asked: str | None, languages: list[str], own: str | None) -> None:
    assert signer_country(asked, languages, TAKING_PART) == own


ROWS = [
    CountryProgress("BE", "Belgium", 0, 15_840),
    CountryProgress("DE", "Germany", 34_560, 69_120),  # 50 %
    CountryProgress("GR", "Greece", 15_120, 15_120),  # 100 %: reached
    CountryProgress("FR", "France", 5_832, 58_320),  # 10 %
    CountryProgress("AT", "Austria", 7_200, 14_400),  # 50 %, after Germany in the protocol order
    CountryProgress("PL", "Poland", 57_240, 38_160),  # 150 %
    CountryProgress("FI", "Finland", 0, 10_800),
]


def test_the_list_runs_from_the_furthest_along_down_ties_in_protocol_order() -> None:
    assert [c.code for c in by_progress(ROWS)] == ["PL", "GR", "DE", "AT", "FR", "BE", "FI"]


def test_the_signers_own_member_state_comes_first_whatever_its_progress() -> None:
    assert [c.code for c in by_progress(ROWS, "FI")] == ["FI", "PL", "GR", "DE", "AT", "FR", "BE"]
    assert [c.code for c in by_progress(ROWS, "PL")] == ["PL", "GR", "DE", "AT", "FR", "BE", "FI"]
    assert [c.code for c in by_progress(ROWS, "ES")] == ["PL", "GR", "DE", "AT", "FR", "BE", "FI"]


def test_percent_of_the_threshold() -> None:
    assert [round(c.percent, 1) for c in ROWS] == [0.0, 50.0, 100.0, 10.0, 50.0, 150.0, 0.0]
