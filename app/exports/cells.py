"""CSV cells a spreadsheet would run as a formula, made inert, reversibly (docs/decisions/003).

A signer may type `=HYPERLINK(...)` as a name; Excel, LibreOffice and Google Sheets run a cell that starts with
`=`, `+`, `-` or `@` (OWASP, "CSV Injection"; ASVS 1.2.10 adds tab and NUL, and some also read a carriage return, a
formula after leading blanks, or the full-width signs). Such a cell gets one leading apostrophe, which spreadsheets
show as text. So that every value can still be recovered exactly, a value that already starts with apostrophes
followed by such a start gets one more: removing one leading apostrophe from a cell that starts with an apostrophe
and then matches the rule gives back the value as typed (`as_typed`), and no other cell is changed. `export open
--raw` writes the values as typed in the first place, for loading into a database rather than a spreadsheet.
"""

from __future__ import annotations

import re

APOSTROPHE = "'"

# after any apostrophes: a formula sign (ASCII or full-width), a tab, carriage return or NUL, or blanks then a sign
_RUNS_AS_FORMULA = re.compile(r"'*(?:[=+\-@\t\r\0\uff1d\uff0b\uff0d\uff20]|\s+[=+\-@\uff1d\uff0b\uff0d\uff20])")
_FIRST = frozenset("'=+-@\t\r\0\uff1d\uff0b\uff0d\uff20")


def _runs_as_formula(value: str) -> bool:
    return bool(value) and (value[0] in _FIRST or value[0].isspace()) and _RUNS_AS_FORMULA.match(value) is not None


def for_spreadsheet(value: str) -> str:
    """The cell `export open` writes: the value, or the value behind one apostrophe when it would run."""
    return APOSTROPHE + value if _runs_as_formula(value) else value


def as_typed(cell: str) -> str:
    """The value as the signer typed it, from a cell `for_spreadsheet` wrote."""
    if cell.startswith(APOSTROPHE) and _runs_as_formula(cell[1:]):
        return cell[1:]
    return cell
