"""Issue 10's figures as one table: each row's measurement, its baseline, the ratio, the target, met or short by how
much. The targets are the issue's; the measurements come from the benchmark modules named in each row.

A module that measures rows has `figures(quick: bool = False) -> dict[str, Measured]`, keyed by the rows' `key`
(bench.flow, bench.staff_pages, bench.audit_page and bench.export do). A row whose module is missing,
has no `figures`, or did not return its key says "not measured yet": no figure is ever made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Measured:
    value: float
    baseline: float | None = None  # the bare app's figure in the same run, the 1k-statement latency, one worker...
    note: str = ""
    paired_ratio: float | None = None
    """The median of each run's own value / baseline, when the two were measured side by side run after run: on a
    shared machine it follows the load less than the ratio of the two medians does."""

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.value / self.baseline if self.baseline else None


class Goal(StrEnum):
    RATIO_AT_LEAST = "ratio_at_least"  # value / baseline >= limit
    RATIO_AT_MOST = "ratio_at_most"  # value / baseline <= limit
    AT_LEAST = "at_least"  # value >= limit
    AT_MOST = "at_most"  # value <= limit


@dataclass(frozen=True)
class Target:
    goal: Goal
    limit: float


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    unit: str
    source: str  # the module whose figures() measures this row
    baseline: str  # what the baseline column holds for this row
    target: Target | None = None


def _ratio_at_least(limit: float) -> Target:
    return Target(Goal.RATIO_AT_LEAST, limit)


FLAT = Target(Goal.RATIO_AT_MOST, 1.5)
ROWS = [
    # 1. the signing path near Flask's own cost (bench.flow: wrk, 8 connections, gunicorn 2 sync workers each)
    Row("form_get", "sign form GET", "requests/s", "bench.flow", "bare Flask", _ratio_at_least(0.6)),
    Row("sign_post", "POST /sign (a new signer each)", "requests/s", "bench.flow", "bare Flask", _ratio_at_least(0.5)),
    Row(
        "flow",
        "whole flow: form, sign, mail, confirm page, confirm",
        "confirmed/s",
        "bench.flow",
        "bare Flask",
        _ratio_at_least(0.5),
    ),  # fmt: skip
    Row(
        "flow_p99", "p99 latency at the flow's peak rate", "ms", "bench.flow", "bare Flask", Target(Goal.AT_MOST, 250)
    ),  # fmt: skip
    Row("form_get_cpu", "app CPU per sign form GET", "ms", "bench.flow", "bare Flask"),
    Row("sign_post_cpu", "app CPU per POST /sign", "ms", "bench.flow", "bare Flask"),
    # 2. staff pages flat at a million (latency at 1,000,000 statements against 1,000)
    Row("dashboard_1m", "organizer dashboard, 1M statements", "ms", "bench.staff_pages", "at 1k", FLAT),
    Row("audit_log_1m", "audit log page, 1M statements", "ms", "bench.staff_pages", "at 1k", FLAT),
    Row(
        "audit_log_1m_entries", "audit log page, 1M audit entries", "ms", "bench.audit_page", "at 1k entries", FLAT
    ),  # fmt: skip
    Row("quarantine_page_1m", "quarantine page, 1M statements", "ms", "bench.staff_pages", "at 1k", FLAT),
    Row(
        "quarantine_preview_1m",
        "quarantine preview (one state, 24 h), 1M statements",
        "ms",
        "bench.staff_pages",
        "at 1k",
        FLAT,
    ),  # fmt: skip
    Row(
        "quarantine_preview_confirmed_1m",
        "quarantine preview (one state, confirmed in 24 h), 1M statements",
        "ms",
        "bench.staff_pages",
        "at 1k",
        FLAT,
    ),  # fmt: skip
    Row(
        "quarantine_preview_shared_1m",
        "quarantine preview (shared network), 1M statements",
        "ms",
        "bench.staff_pages",
        "at 1k",
        FLAT,
    ),  # fmt: skip
    Row(
        "quarantine_preview_broad_1m",
        "quarantine preview (one state, no window: counts 17% of them), 1M statements",
        "ms",
        "bench.staff_pages",
        "at 1k",
    ),  # fmt: skip
    Row("api_1m", "public JSON API, 1M statements", "ms", "bench.staff_pages", "at 1k", FLAT),
    Row("public_page_1m", "public initiative page, 1M statements", "ms", "bench.staff_pages", "at 1k"),
    # 3. past one machine: what a second gunicorn worker (a second core) adds, through HAProxy (deploy/)
    Row("second_core", "signings/s through HAProxy, 2 workers", "signings/s", "bench.flow", "1 worker"),
    # 4. exports at a million
    Row(
        "export_rate_1m",
        "export create, 1M statements",
        "statements/s",
        "bench.export",
        "",
        Target(Goal.AT_LEAST, 100_000),
    ),  # fmt: skip
    Row(
        "export_rss_1m", "export create, 1M statements, peak RSS", "MB", "bench.export", "", Target(Goal.AT_MOST, 250)
    ),  # fmt: skip
    Row("export_verify_1m", "export verify, 1M statements", "s", "bench.export", ""),
    Row("export_open_1m", "export open, 1M statements", "s", "bench.export", ""),
]


def _number(value: float, unit: str) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 100:
        return f"{value:.0f} {unit}"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"


def _goal_text(target: Target | None, unit: str) -> str:
    if target is None:
        return "-"
    return {
        Goal.RATIO_AT_LEAST: f"ratio >= {target.limit:g}",
        Goal.RATIO_AT_MOST: f"ratio <= {target.limit:g}",
        Goal.AT_LEAST: f">= {_number(target.limit, unit)}",
        Goal.AT_MOST: f"<= {_number(target.limit, unit)}",
    }[target.goal]


def verdict(target: Target | None, measured: Measured, unit: str) -> str:
    """ "met", or by how much it falls short, in the target's own terms."""
    if target is None:
        return "-"
    value, limit = measured.value, target.limit
    if target.goal in (Goal.RATIO_AT_LEAST, Goal.RATIO_AT_MOST):
        ratio = measured.ratio
        if not ratio:
            return "no baseline"
        if target.goal == Goal.RATIO_AT_LEAST:
            return "met" if ratio >= limit else f"short by {limit - ratio:.2f} (needs x{limit / ratio:.1f})"
        return "met" if ratio <= limit else f"over by {ratio - limit:.2f} (needs x{ratio / limit:.1f} flatter)"
    if target.goal == Goal.AT_LEAST:
        return "met" if value >= limit else f"short by {_number(limit - value, unit)} (needs x{limit / value:.2f})"
    return "met" if value <= limit else f"over by {_number(value - limit, unit)} (needs x{value / limit:.2f})"


def render(found: dict[str, Measured], missing: dict[str, str]) -> str:
    """A Markdown table, one line per row of ROWS; `missing` says, per module, why its rows have no figure.
    The ratio is the paired one where the module gave it (see Measured)."""
    lines = [
        "| figure | Quorum | baseline | ratio | target | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        measured = found.get(row.key)
        if measured is None:
            why = missing.get(row.source, f"{row.source}.figures() did not measure it")
            lines.append(f"| {row.name} | not measured yet | | | {_goal_text(row.target, row.unit)} | {why} |")
            continue
        baseline = f"{_number(measured.baseline, row.unit)} ({row.baseline})" if measured.baseline is not None else "-"
        ratio = f"x{measured.ratio:.2f}" if measured.ratio else "-"
        status = verdict(row.target, measured, row.unit) + (f"; {measured.note}" if measured.note else "")
        lines.append(
            f"| {row.name} | {_number(measured.value, row.unit)} | {baseline} | {ratio} | "
            f"{_goal_text(row.target, row.unit)} | {status} |"
        )
    return "\n".join(lines)
