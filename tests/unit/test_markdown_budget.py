"""Markdown whatever staff type: its work grows no faster than its length, for the inputs markdown parsers are known
to choke on (CommonMark's pathological tests, markdown-it's issues: runs of `[`, `![`, `*`, `<`, nested quotes and
lists, reference chains); it is rendered once per revision of a text; text longer than any cap is never parsed.

Work is counted in lines of markdown-it executed (tests/support/markdown_work.py), never timed. A million `[` used to
hold every page of every initiative for 27 s (issue 7); bench/markdown.py has the times.
"""

from __future__ import annotations

import pytest
from markupsafe import Markup

from app.initiatives import TEXT_LIMITS
from app.sharing.share_links import plain_text
from app.template_helpers import MARKDOWN_LIMIT, render_markdown, rendered_markdown

from ..support.markdown_work import markdown_work

LINES_PER_CHARACTER = 1_000
"""The most markdown-it lines one character of the worst input below costs (measured: 923 for `![`); a text at its
cap then costs at most 5 million lines, about 0.2 s untraced, once per revision."""
OUTPUT_PER_CHARACTER = 5
"""`**` runs grow 4.25 times, `<` 4 times (escaped as &lt;): no input makes a page much larger than its text."""


def repeated(pattern: str, length: int) -> str:
    return (pattern * (length // len(pattern) + 1))[:length]


PATHOLOGICAL = {
    "link openers": lambda n: repeated("[", n),
    "image openers": lambda n: repeated("![", n),
    "images in links": lambda n: repeated("[![", n),
    "image alt unclosed": lambda n: repeated("![a", n),
    "emphasis and links": lambda n: repeated("*[", n),
    "autolinks in links": lambda n: repeated("[<", n),
    "reference-ish": lambda n: repeated("[x][", n),
    "nested brackets": lambda n: "[" * (n // 2) + "a" + "]" * (n // 2 - 1),
    "unclosed inline links": lambda n: repeated("[](", n),
    "strong runs": lambda n: "**" * (n // 4) + "a" + "**" * (n // 4 - 1),
    "emphasis pairs": lambda n: repeated("_a_ ", n),
    "angle brackets": lambda n: "<" * n,
    "entities": lambda n: repeated("&#", n),
    "code spans": lambda n: repeated("`a", n),
    "nested quotes": lambda n: "> " * (n // 2),
    "nested lists": lambda n: "".join("  " * i + "- a\n" for i in range(n))[:n],
    "reference definitions": lambda n: repeated("[a]: <", n),
    "lines": lambda n: repeated("a\n", n),
}


def _work(text: str) -> tuple[int, Markup]:
    rendered_markdown.clear()
    with markdown_work() as work:
        html = render_markdown(text)
    return work.lines, html


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_work_grows_with_the_length_and_no_faster(name: str) -> None:
    make = PATHOLOGICAL[name]
    small, _ = _work(make(500))
    lines, html = _work(make(1_000))
    assert lines <= LINES_PER_CHARACTER * 1_000, f"{name}: {lines / 1_000:.0f} lines a character"
    assert lines <= 2.3 * small + 5_000, f"{name}: twice the text, {lines / max(small, 1):.1f} times the work"
    assert len(html) <= OUTPUT_PER_CHARACTER * 1_000 + 100


def test_the_worst_text_within_the_cap_stays_within_the_budget() -> None:
    cap = TEXT_LIMITS["summary"]
    lines, html = _work(PATHOLOGICAL["image openers"](cap))
    assert 0.5 * LINES_PER_CHARACTER * cap < lines <= LINES_PER_CHARACTER * cap  # the worst, and within the budget
    assert len(html) <= OUTPUT_PER_CHARACTER * cap


def test_a_text_is_rendered_once_per_revision() -> None:
    rendered_markdown.clear()
    first, second = "**Clean air** for all", "**Clean air** for everyone"
    with markdown_work() as work:
        html = render_markdown(first)
    assert work.lines > 0 and html == Markup("<p><strong>Clean air</strong> for all</p>\n")
    with markdown_work() as again:
        assert render_markdown(first) == html
    assert again.lines == 0
    with markdown_work() as edited:
        assert "everyone" in render_markdown(second)  # an edit is a new revision: rendered, never stale
    assert edited.lines > 0


def test_the_cache_keeps_to_its_size() -> None:
    rendered_markdown.clear()
    kept = rendered_markdown.max_characters
    rendered_markdown.max_characters = 100
    try:
        for n in range(10):
            render_markdown(f"paragraph number {n} " * 3)
        with markdown_work() as work:
            render_markdown("paragraph number 0 " * 3)  # the oldest went first
        assert work.lines > 0
        assert sum(len(html) for html in rendered_markdown._held.values()) <= 100  # noqa: SLF001
    finally:
        rendered_markdown.max_characters = kept
        rendered_markdown.clear()


def test_a_text_longer_than_any_cap_is_shown_as_text_and_never_parsed() -> None:
    """Stored before the caps, or by hand in the database: a million `[` costs nothing of markdown-it."""
    million = "<b>" + "[" * 1_000_000
    lines, html = _work(million)
    assert lines == 0
    assert html.startswith("<p>&lt;b&gt;[[[") and len(million) > MARKDOWN_LIMIT
    with markdown_work() as work:
        description = plain_text(million)
    assert work.lines <= LINES_PER_CHARACTER * TEXT_LIMITS["summary"]  # the preview reads a summary's cap at most
    assert description.startswith("&lt;b&gt;") or description.startswith("<b>")
