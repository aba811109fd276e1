"""The pace of updates: the delivery times the mail worker hands out, as pure arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.updates.sending import free_slots

T = datetime(2026, 5, 1, 12, 0, 0)
S = timedelta(seconds=1)


def test_a_minute_of_slots_evenly_spaced() -> None:
    assert free_slots(T, 4, None, 0) == [T, T + 15 * S, T + 30 * S, T + 45 * S]


def test_nothing_before_the_time_after_the_last_one_given_out() -> None:
    # two given out at T and T+15 s: the next may go at T+30 s, however early the worker asks
    assert free_slots(T + S, 4, T + 30 * S, 0) == [T + 30 * S, T + 45 * S, T + 60 * S]
    # and while those two still wait in the outbox, two more at most
    assert free_slots(T + S, 4, T + 30 * S, 2) == [T + 30 * S, T + 45 * S]


def test_no_more_than_a_minute_waits_in_the_outbox() -> None:
    assert free_slots(T, 4, None, 4) == []
    assert free_slots(T, 4, None, 3) == [T]


def test_a_pause_or_an_idle_worker_brings_no_burst_afterwards() -> None:
    # the last slot given out is an hour old: the pace starts again from now, a minute's worth, not an hour's
    assert free_slots(T, 2, T - timedelta(hours=1), 0) == [T, T + 30 * S]


def test_slow_paces() -> None:
    assert free_slots(T, 1, None, 0) == [T]
    assert free_slots(T + 59 * S, 1, T + 60 * S, 0) == [T + 60 * S]
    assert free_slots(T + 10 * S, 1, T + 120 * S, 0) == []  # a minute or more away: asked for again later


def test_fast_paces_stay_within_a_minute() -> None:
    slots = free_slots(T, 6000, None, 0)
    assert len(slots) == 6000
    assert slots[-1] < T + timedelta(minutes=1)
    assert all(b - a == timedelta(milliseconds=10) for a, b in zip(slots, slots[1:], strict=False))
