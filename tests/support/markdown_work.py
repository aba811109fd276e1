"""Markdown's work measured without a clock: the lines of markdown-it's own code that run, counted with a tracer.

The count is the same on every run and every machine, so a budget written in it is a test that cannot flake; what a
line costs in time is the bench's business (bench/markdown.py: about 35 ns untraced on this machine).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import markdown_it

PACKAGE = markdown_it.__file__.rsplit("/", 1)[0]


@dataclass
class Work:
    lines: int = 0


@contextmanager
def markdown_work() -> Iterator[Work]:
    """Count the lines markdown-it executes inside the block (parsing and rendering, cached or not)."""
    work = Work()

    def in_function(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            work.lines += 1
        return in_function

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return in_function if frame.f_code.co_filename.startswith(PACKAGE) else None

    before = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield work
    finally:
        sys.settrace(before)
