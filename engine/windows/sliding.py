"""Sliding event-time windows over numbers: count, sum, avg, stddev, delta, rate.

A window of duration D at time t holds the key's matching events with time in (t - D, t]. Events
reach a window in event-time order (the evaluator's reorder buffer guarantees it), so each window
is a deque that grows on the right and is trimmed on the left, with running aggregates: constant
time per event, whatever the window's length.

Every window has the same three members: `add(t, x)` takes one event at time t (milliseconds)
with argument x, `expire(t)` moves the window's end to t without an event, `value` is the current
aggregate (None when undefined, e.g. the average of nothing), and `next_change()` is the earliest
time at which `expire` alone would change `value`.

>>> window = Mean(600_000)                       # avg(value, 10m)
>>> for minute, level in [(0, 0.1), (4, 0.2), (9, 0.6)]:
...     window.add(minute * 60_000, level)
>>> round(window.value, 3)
0.3
>>> window.expire(14 * 60_000)                  # the first two readings leave the window
>>> round(window.value, 3)
0.6
"""
from __future__ import annotations

from collections import deque
from math import sqrt

__all__ = ["Count", "Sum", "Mean", "StdDev", "Delta", "Rate"]


class Count:
    """Number of events in the window, whatever their argument."""

    __slots__ = ("duration", "_times")

    def __init__(self, duration: int) -> None:
        self.duration = duration
        self._times: deque[int] = deque()

    def add(self, t: int, x: object = None) -> None:
        # `expire` inline: windows are the innermost loop of every windowed rule.
        times, horizon = self._times, t - self.duration
        while times and times[0] <= horizon:
            times.popleft()
        times.append(t)

    def expire(self, t: int) -> None:
        times, horizon = self._times, t - self.duration
        while times and times[0] <= horizon:
            times.popleft()

    @property
    def value(self) -> int:
        return len(self._times)

    def next_change(self) -> int | None:
        return self._times[0] + self.duration if self._times else None


class _Pairs:
    """Base of windows that keep (time, number) pairs; non-numbers are ignored."""

    __slots__ = ("duration", "_items")

    def __init__(self, duration: int) -> None:
        self.duration = duration
        self._items: deque[tuple[int, float]] = deque()

    def add(self, t: int, x: object) -> None:
        items, horizon = self._items, t - self.duration
        while items and items[0][0] <= horizon:
            items.popleft()
        if (type(x) is float or type(x) is int) and x == x:
            items.append((t, x))

    def expire(self, t: int) -> None:
        items, horizon = self._items, t - self.duration
        while items and items[0][0] <= horizon:
            items.popleft()

    def next_change(self) -> int | None:
        return self._items[0][0] + self.duration if self._items else None


class _Numeric(_Pairs):
    """Pairs with running aggregates, updated as numbers enter and leave."""

    __slots__ = ()

    def add(self, t: int, x: object) -> None:
        items, horizon = self._items, t - self.duration
        while items and items[0][0] <= horizon:
            self._removed(items.popleft()[1])
        if (type(x) is float or type(x) is int) and x == x:
            items.append((t, x))
            self._added(x)

    def expire(self, t: int) -> None:
        items, horizon = self._items, t - self.duration
        while items and items[0][0] <= horizon:
            self._removed(items.popleft()[1])

    def _added(self, x: float) -> None:
        raise NotImplementedError

    def _removed(self, x: float) -> None:
        raise NotImplementedError


class Sum(_Numeric):
    """Sum of the argument over the window (0 when empty)."""

    __slots__ = ("_total",)

    def __init__(self, duration: int) -> None:
        super().__init__(duration)
        self._total = 0.0

    def _added(self, x: float) -> None:
        self._total += x

    def _removed(self, x: float) -> None:
        self._total -= x
        if not self._items:
            self._total = 0.0  # no rounding residue survives an empty window

    @property
    def value(self) -> float:
        return self._total


class Mean(Sum):
    """Arithmetic mean of the argument over the window (None when empty)."""

    __slots__ = ()

    @property
    def value(self) -> float | None:
        return self._total / len(self._items) if self._items else None


class StdDev(_Numeric):
    """Population standard deviation over the window, by Welford's update and its reversal."""

    __slots__ = ("_mean", "_m2")

    def __init__(self, duration: int) -> None:
        super().__init__(duration)
        self._mean = 0.0
        self._m2 = 0.0

    def _added(self, x: float) -> None:
        n = len(self._items)
        delta = x - self._mean
        self._mean += delta / n
        self._m2 += delta * (x - self._mean)

    def _removed(self, x: float) -> None:
        n = len(self._items)
        if n == 0:
            self._mean = self._m2 = 0.0
            return
        delta = x - self._mean
        self._mean -= delta / n
        self._m2 -= delta * (x - self._mean)

    @property
    def value(self) -> float | None:
        if not self._items:
            return None
        return sqrt(max(self._m2, 0.0) / len(self._items))


class Delta(_Pairs):
    """Last minus first argument in the window (0 with one event, None when empty)."""

    __slots__ = ()

    @property
    def value(self) -> float | None:
        items = self._items
        return items[-1][1] - items[0][1] if items else None


class Rate(_Pairs):
    """(last - first) / elapsed seconds between them; None until two distinct times are seen."""

    __slots__ = ()

    @property
    def value(self) -> float | None:
        items = self._items
        if len(items) < 2 or items[-1][0] == items[0][0]:
            return None
        return (items[-1][1] - items[0][1]) * 1000.0 / (items[-1][0] - items[0][0])
