"""What Markdown costs whatever staff type (issue 7, point 5): markdown-it on the inputs it is known to choke on, at
the caps and past them, and the public page with the worst summary the caps allow, cold and warm.

    python -m bench.markdown [--rounds 5] [--million]

For each pattern of tests/unit/test_markdown_budget.py: markdown-it's own render at 1,000 characters, at the cap
(5,000) and at 50,000 (the longest update body), the median of `rounds`. Then `render_markdown` on the cap-sized worst
input, first (rendered) and again (from the per-revision cache); the public page of an initiative whose summary is
the worst input at the cap, on a cold cache and warm, over the test client on SQLite; and a million `[`, which
`render_markdown` now shows as text without parsing. `--million` also times markdown-it itself on the million `[`
(about half a minute: what every page view cost before the caps). Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

os.environ.setdefault("QUORUM_INSTANCE", tempfile.mkdtemp(prefix="quorum-bench-"))
os.environ["QUORUM_ENV"] = "testing"

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.initiatives import TEXT_LIMITS  # noqa: E402
from app.template_helpers import _markdown, render_markdown, rendered_markdown  # noqa: E402
from bench.machine import describe  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests.unit.test_markdown_budget import PATHOLOGICAL  # noqa: E402

SIZES = (1_000, TEXT_LIMITS["summary"], 50_000)


def _median_ms(action: Callable[[], object], rounds: int, before: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(rounds):
        before()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def patterns(rounds: int) -> dict[str, dict[int, float]]:
    times: dict[str, dict[int, float]] = {}
    for name, make in PATHOLOGICAL.items():
        for size in SIZES:
            text = make(size)
            times.setdefault(name, {})[size] = _median_ms(lambda text=text: _markdown.render(text), rounds)
    return times


def page(rounds: int, worst: str) -> dict[str, float]:
    from flask_migrate import upgrade

    from app.initiatives import create_initiative
    from app.models import utctoday
    from app.sealing import generate_key_pair
    from app.sharing.share_links import plain_text

    path = os.path.join(os.environ["QUORUM_INSTANCE"], "bench-markdown.db")
    app = create_app(TestingConfig(), SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", RATELIMIT_ENABLED=False)
    cap = TEXT_LIMITS["summary"]
    with app.app_context():
        upgrade()
        initiative = create_initiative(
            slug="bench-markdown",
            title="The worst summary the caps allow",
            start=utctoday(),
            end=utctoday() + timedelta(days=300),
            summary=PATHOLOGICAL[worst](cap),
        )
        initiative.auditor_public_key = generate_key_pair()[1]
        db.session.commit()
        client = app.test_client()

        def cold() -> None:
            rendered_markdown.clear()
            plain_text.cache_clear()

        text = PATHOLOGICAL[worst](cap)
        return {
            "render_first_ms": _median_ms(lambda: render_markdown(text), rounds, cold),
            "render_cached_ms": _median_ms(lambda: render_markdown(text), rounds),
            "page_cold_ms": _median_ms(lambda: client.get("/i/bench-markdown"), rounds, cold),
            "page_warm_ms": _median_ms(lambda: client.get("/i/bench-markdown"), rounds),
            "million_brackets_ms": _median_ms(lambda: render_markdown("[" * 1_000_000), rounds, cold),
        }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.markdown")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--million", action="store_true", help="also markdown-it itself on a million [ (slow)")
    args = parser.parse_args(argv)

    by_pattern = patterns(args.rounds)
    worst = max(by_pattern, key=lambda name: by_pattern[name][TEXT_LIMITS["summary"]])
    print(f"markdown-it {SIZES[0]:,} / {SIZES[1]:,} (the cap) / {SIZES[2]:,} characters, median of {args.rounds} (ms)")
    for name, times in sorted(by_pattern.items(), key=lambda item: -item[1][SIZES[1]]):
        print(f"  {name:24s} " + " ".join(f"{times[size]:9.1f}" for size in SIZES))
    pages = page(args.rounds, worst)
    print(f"worst at the cap: {worst}")
    for key, value in pages.items():
        print(f"  {key:24s} {value:9.2f}")
    result: dict[str, Any] = {"patterns": by_pattern, "worst": worst, **pages, "machine": describe()}
    if args.million:
        started = time.perf_counter()
        _markdown.render("[" * 1_000_000)
        result["markdown_it_million_brackets_ms"] = (time.perf_counter() - started) * 1000
        print(f"  markdown-it on a million [ {result['markdown_it_million_brackets_ms']:9.0f}")
    print(describe())
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
