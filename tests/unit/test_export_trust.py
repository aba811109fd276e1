"""Where the auditor's machine keeps the export keys it trusts, and how the file reads and writes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from app.exports.trust import PinsError, add_pin, find_pin, pinnable, pins_path, read_pins

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_pins_path_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUORUM_EXPORT_PINS", str(tmp_path / "pins"))
    assert pins_path() == tmp_path / "pins"
    monkeypatch.delenv("QUORUM_EXPORT_PINS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert pins_path() == tmp_path / "config" / "quorum" / "export-keys"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pins_path() == tmp_path / "home" / ".config" / "quorum" / "export-keys"


def test_pin_is_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "config" / "quorum" / "export-keys"
    assert find_pin("https://sign.example.org", path) is None  # no file yet: nothing trusted
    add_pin("https://sign.example.org", KEY, datetime(2026, 11, 30, 9, 0, 0), path)
    add_pin("https://other.example.org", OTHER, datetime(2026, 11, 30, 9, 5, 0), path)
    text = path.read_text()
    assert text.startswith("#")
    assert f"https://sign.example.org {KEY.hex()} 2026-11-30T09:00:00Z\n" in text
    pin = find_pin("https://sign.example.org", path)
    assert pin is not None and pin.verify_key == KEY and pin.pinned_at == "2026-11-30T09:00:00Z"
    add_pin("https://sign.example.org", OTHER, datetime(2026, 12, 1), path)  # replaced, the other kept
    assert {p.instance: p.verify_key for p in read_pins(path).values()} == {
        "https://sign.example.org": OTHER,
        "https://other.example.org": OTHER,
    }
    assert not [p for p in path.parent.iterdir() if p.name != "export-keys"]  # no temporary file left


@pytest.mark.parametrize(
    "line",
    ["https://sign.example.org", "https://sign.example.org nothex", "https://sign.example.org " + "ab" * 31, "a b c d"],
)
def test_a_line_that_is_not_a_pin_is_refused(tmp_path: Path, line: str) -> None:
    path = tmp_path / "export-keys"
    path.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(PinsError, match="line 3: expected an instance, a 64-hex-digit key and a date"):
        read_pins(path)


@pytest.mark.parametrize(
    ("instance", "ok"),
    [
        ("https://sign.example.org", True),
        ("http://127.0.0.1:5000", True),
        ("", False),
        ("https://sign.example.org evil", False),
        ("https://a\nb", False),
        ("https://a#b", False),
        ("x" * 501, False),
    ],
)
def test_which_instance_names_can_be_pinned(tmp_path: Path, instance: str, ok: bool) -> None:
    assert pinnable(instance) is ok
    if not ok:
        with pytest.raises(PinsError):
            add_pin(instance, KEY, datetime(2026, 11, 30), tmp_path / "export-keys")
