"""CSV cells a spreadsheet would run as a formula: the rule of docs/decisions/003 as a table written by hand (OWASP's
CSV injection triggers `= + - @`, tab and carriage return; ASVS 1.2.10 adds NUL), and every value recoverable."""

from __future__ import annotations

import pytest

from app.exports.cells import as_typed, for_spreadsheet

CELLS = [
    # (as typed, as written for a spreadsheet)
    ("Zoë Anna", "Zoë Anna"),
    ("", ""),
    ("=1+2", "'=1+2"),
    ("+49 30 123", "'+49 30 123"),
    ("-Jansen", "'-Jansen"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("\tplain", "'\tplain"),
    ("\0", "'\0"),
    ("  =1+2", "'  =1+2"),  # blanks a spreadsheet may trim first
    ("\u00a0@x", "'\u00a0@x"),  # a no-break space is a blank too
    ("\uff1dSUM(1)", "'\uff1dSUM(1)"),  # full-width equals sign
    ("'s-Gravenhage", "'s-Gravenhage"),  # a real name that starts with an apostrophe: left as it is
    ("'t Hart", "'t Hart"),
    ("'=1", "''=1"),  # already behind an apostrophe: one more, so that removing one gives it back
    ("''+x", "'''+x"),
    ("'", "'"),
    ("Anna-Maria", "Anna-Maria"),  # signs inside a value are harmless
    ("1980-02-29", "1980-02-29"),
    ("a=b", "a=b"),
    (" Anna", " Anna"),
]


@pytest.mark.parametrize(("typed", "written"), CELLS)
def test_cell_for_a_spreadsheet(typed: str, written: str) -> None:
    assert for_spreadsheet(typed) == written


@pytest.mark.parametrize(("typed", "written"), CELLS)
def test_value_as_typed_comes_back(typed: str, written: str) -> None:
    assert as_typed(written) == typed


@pytest.mark.parametrize(
    "value",
    ["'", "''", "'''=", "'a", "' =", "'\t", "=", "-", "'-", "''-'", "' ", "  ", "'\u3000+"],
)
def test_round_trip_of_apostrophe_runs(value: str) -> None:
    """Every run of apostrophes, blanks and signs the rule looks at comes back as it was."""
    assert as_typed(for_spreadsheet(value)) == value
    assert not for_spreadsheet(value).startswith(("=", "+", "-", "@", "\t", "\r", "\0"))
