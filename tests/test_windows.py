"""Every window function against a brute-force reference over random event streams."""
from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.expr import WindowSpec
from engine.windows import make_window

DURATION = 10_000


def brute(function: str, items: list[tuple[int, float]], now: int, over: int = 0):
    inside = [x for t, x in items if now - DURATION < t <= now]
    if function == "count":
        return len(inside)
    if function == "sum":
        return sum(inside)
    if function == "avg":
        return sum(inside) / len(inside) if inside else None
    if function == "stddev":
        return statistics.pstdev(inside) if inside else None
    if function == "min":
        return min(inside) if inside else None
    if function == "max":
        return max(inside) if inside else None
    if function == "delta":
        return inside[-1] - inside[0] if inside else None
    if function == "rate":
        timed = [(t, x) for t, x in items if now - DURATION < t <= now]
        if len(timed) < 2 or timed[-1][0] == timed[0][0]:
            return None
        return (timed[-1][1] - timed[0][1]) * 1000 / (timed[-1][0] - timed[0][0])
    if function == "distinct":
        return len(set(inside))
    if function == "avg_count":
        reference = [t for t, _ in items if now - over < t <= now - DURATION]
        return len(reference) * DURATION / (over - DURATION)
    raise AssertionError(function)


def close(actual, expected) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-6)


streams = st.lists(st.tuples(st.integers(0, 3_000), st.integers(-50, 50)), max_size=60).map(
    lambda steps: _accumulate(steps))


def _accumulate(steps: list[tuple[int, int]]) -> list[tuple[int, float]]:
    t, items = 0, []
    for gap, value in steps:
        t += gap
        items.append((t, value / 4))
    return items


@pytest.mark.parametrize("function", ["count", "sum", "avg", "stddev", "min", "max", "delta",
                                      "rate", "distinct"])
@settings(max_examples=150, deadline=None)
@given(items=streams, tail=st.integers(0, 20_000))
def test_window_matches_brute_force_after_every_event_and_after_expiry(function, items, tail):
    window = make_window(WindowSpec(function, None if function == "count" else "value", DURATION))
    for index, (t, x) in enumerate(items):
        window.add(t, x)
        assert close(window.value, brute(function, items[:index + 1], t)), (index, t)
    if items:
        now = items[-1][0] + tail
        window.expire(now)
        assert close(window.value, brute(function, items, now))


@settings(max_examples=150, deadline=None)
@given(items=streams, tail=st.integers(0, 50_000))
def test_avg_count_is_the_per_window_rate_of_the_reference_period(items, tail):
    over = 4 * DURATION
    window = make_window(WindowSpec("avg_count", None, DURATION, over))
    for index, (t, _) in enumerate(items):
        window.add(t, None)
        assert close(window.value, brute("avg_count", items[:index + 1], t, over))
    if items:
        now = items[-1][0] + tail
        window.expire(now)
        assert close(window.value, brute("avg_count", items, now, over))


@settings(max_examples=150, deadline=None)
@given(items=st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from("abcde")), max_size=60))
def test_first_seen_is_true_only_for_values_unseen_within_the_window(items):
    window = make_window(WindowSpec("first_seen", "value", DURATION))
    t, history = 0, []
    for gap, value in items:
        t += gap
        expected = not any(v == value and t - DURATION < s for s, v in history)
        window.add(t, value)
        assert window.value is expected
        history.append((t, value))


@given(values=st.lists(st.integers(-5, 5), min_size=1, max_size=30))
def test_previous_is_the_value_of_the_event_before(values):
    window = make_window(WindowSpec("previous", "value", 0))
    for index, value in enumerate(values):
        window.add(index, value)
        assert window.value == (values[index - 1] if index else None)


@pytest.mark.parametrize("function", ["sum", "avg", "min", "max", "delta", "stddev"])
def test_numeric_windows_ignore_values_that_are_not_numbers(function):
    window = make_window(WindowSpec(function, "value", DURATION))
    window.add(0, 2.0)
    window.add(1, None)
    window.add(2, "3")
    window.add(3, True)
    assert window.value == brute(function, [(0, 2.0)], 3)


def test_next_change_is_when_the_oldest_event_leaves():
    window = make_window(WindowSpec("count", None, DURATION))
    window.add(100, None)
    window.add(500, None)
    assert window.next_change() == 100 + DURATION
