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
from collections.abc import Iterable, Iterator
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


def _fields(row: Row) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": entry.id,
        "created_at": _time(entry.created_at),
        "actor": entry.actor,
        "action": row.action_label,
        "action_code": entry.action,
        "initiative": row.initiative_slug,
        "target": entry.target,
        "reason": entry.reason,
        "details": row.details,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def csv_lines(rows: Iterable[Row]) -> Iterator[str]:
    """A header, then one line per entry (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        fields = _fields(row)
        fields["initiative"] = fields["initiative"] or ""
        fields["details"] = json.dumps(fields["details"], ensure_ascii=False, sort_keys=True) if row.details else ""
        writer.writerow([spreadsheet_safe(str(fields[name])) for name in CSV_COLUMNS])
        yield buffer.getvalue()


def json_chunks(rows: Iterable[Row], about: dict[str, Any]) -> Iterator[str]:
    """One JSON object: `format`, what was asked for (`about`), then `entries`, written as the rows come."""
    head = json.dumps({"format": FORMAT, **about}, ensure_ascii=False, indent=1)
    yield head[: head.rindex("}")].rstrip() + ',\n "entries": ['
    separator = "\n  "
    for row in rows:
        yield separator + json.dumps(_fields(row), ensure_ascii=False)
        separator = ",\n  "
    yield "\n ]\n}\n"
