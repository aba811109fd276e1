"""Rendering once for many readers (app/template_slots.py): a text cut at its markers and filled again, and the
bounded mapping that keeps such texts."""

from __future__ import annotations

import json

import pytest

from app.template_slots import Recent, SlottedText, json_marker, marker


def test_a_text_cut_at_its_markers_fills_each_place_with_its_value() -> None:
    text = f"<a href='{marker('link')}'>{marker('name')}</a> {marker('link')} data={json.dumps(json_marker('data'))}"
    cut = SlottedText.cut(text)
    filled = cut.fill({"link": "/x?a=1&amp;b=2", "name": "Zoë", "data": '{"k": 1}'})
    assert filled == "<a href='/x?a=1&amp;b=2'>Zoë</a> /x?a=1&amp;b=2 data={\"k\": 1}"


def test_a_text_without_markers_is_itself() -> None:
    assert SlottedText.cut("plain & simple").fill({}) == "plain & simple"


def test_a_slot_without_a_value_is_an_error_not_a_marker_left_in_the_page() -> None:
    with pytest.raises(KeyError):
        SlottedText.cut(f"token {marker('csrf')}").fill({})


def test_something_that_only_looks_like_a_marker_is_text() -> None:
    lookalike = "slot-0000000000000000[csrf]"  # another process's word, or an organizer's
    assert SlottedText.cut(lookalike).fill({"csrf": "x"}) == lookalike


def test_the_mapping_forgets_the_least_recently_used_first() -> None:
    kept = Recent[str, int](2)
    made: list[str] = []

    def make(key: str) -> int:
        made.append(key)
        return len(made)

    for key in ("a", "b", "a", "c", "b", "a"):
        kept.get(key, lambda key=key: make(key))
    assert made == ["a", "b", "c", "b", "a"]  # "b" was the least recently used when "c" came, then "a"
    assert len(kept) == 2
