"""Every action the app records has a readable name; CSV cells never reach a spreadsheet as formulas."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.audit.actions import ACTIONS
from app.audit.downloads import spreadsheet_safe

APP = Path(__file__).resolve().parents[2] / "app"


def _recorded_codes() -> set[str]:
    """The action codes passed to `record(...)` (or `audit(...)`, its name in the export module) anywhere in app/."""
    codes: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            if name not in ("record", "audit"):
                continue
            action = node.args[1]
            for value in (action.body, action.orelse) if isinstance(action, ast.IfExp) else (action,):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    codes.add(value.value)
    return codes


def test_every_recorded_action_has_a_readable_name() -> None:
    codes = _recorded_codes()
    assert {"account.access_given", "export.create", "audit.download", "staff.sign_in"} <= codes  # the scan works
    assert codes - set(ACTIONS) == set()


@pytest.mark.parametrize(
    "raw, cell",
    [
        ("=1+1", "'=1+1"),
        ("+31 20 555", "'+31 20 555"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'kept", "''kept"),  # so that dropping one leading apostrophe always gives the raw value back
        ("ada@example.org", "ada@example.org"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_cells_are_safe_and_recoverable(raw: str, cell: str) -> None:
    assert spreadsheet_safe(raw) == cell
    assert (cell[1:] if cell.startswith("'") else cell) == raw
