"""The audit log as a download: CSV for a spreadsheet, JSON for a program; both streamed, oldest entry first.

Each entry keeps its action code in a column of its own beside the readable name, and its hashes, so a reader can
recompute an entry's hash from its fields (`app.audit.log.entry_digest`).

CSV cells are made safe for spreadsheets (OWASP, "CSV Injection"): a cell that starts with `=`, `+`, `-`, `@`, a
tab or a carriage return would be read as a formula, so it gets a leading apostrophe; so does a cell that already
starts with one. The raw value is therefore the cell with one leading apostrophe removed, where it has one; the JSON
download holds every value untouched.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .browse import Row

FORMAT = "quorum-audit-log/1"
CSV_COLUMNS = (
    "id",
    "created_at",
    "actor",
    "action",
    "action_code",
    "initiative",
    "target",
    "reason",
    "details",
    "prev_hash",
    "entry_hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(value: str) -> str:
    """The cell as a spreadsheet must show it: text, never a formula (undo: drop one leading apostrophe)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _fields(row: Row, labels: Mapping[str, str]) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": entry.id,
        "created_at": _time(entry.created_at),
        "actor": entry.actor,
        "action": labels.get(entry.action, entry.action),
        "action_code": entry.action,
        "initiative": row.initiative_slug,
        "target": entry.target,
        "reason": entry.reason,
        "details": row.details,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def csv_start() -> str:
    return _csv_line(CSV_COLUMNS)


def _csv_line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)  # RFC 4180 quoting, CRLF line ends
    return buffer.getvalue()


def csv_rows(rows: Iterable[Row], labels: Mapping[str, str]) -> str:
    """One line per entry, every cell safe for a spreadsheet."""
    lines: list[str] = []
    for row in rows:
        fields = _fields(row, labels)
        fields["initiative"] = fields["initiative"] or ""
        fields["details"] = json.dumps(fields["details"], ensure_ascii=False, sort_keys=True) if row.details else ""
        lines.append(_csv_line(spreadsheet_safe(str(fields[name])) for name in CSV_COLUMNS))
    return "".join(lines)


def json_start(about: dict[str, Any]) -> str:
    """The object's opening: `format`, what was asked for (`about`), and the start of `entries`."""
    head = json.dumps({"format": FORMAT, **about}, ensure_ascii=False, indent=1)
    return head[: head.rindex("}")].rstrip() + ',\n "entries": ['


def json_rows(rows: Iterable[Row], labels: Mapping[str, str], first: bool) -> str:
    """The entries of one batch; `first` for the batch that opens the list (no comma before it)."""
    items = [json.dumps(_fields(row, labels), ensure_ascii=False) for row in rows]
    if not items:
        return ""
    return ("\n  " if first else ",\n  ") + ",\n  ".join(items)


JSON_END = "\n ]\n}\n"
