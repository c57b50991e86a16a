"""Sliding minimum and maximum in event time, with monotonic deques (amortised O(1) per event).

>>> window = Max(300_000)                       # max(value, 5m)
>>> for minute, level in [(0, 3.0), (1, 1.0), (2, 2.0)]:
...     window.add(minute * 60_000, level)
>>> window.value
3.0
>>> window.expire(5 * 60_000)                   # 3.0 (minute 0) has left the window
>>> window.value
2.0
"""
from __future__ import annotations

from collections import deque

__all__ = ["Min", "Max"]


class _Extremum:
    __slots__ = ("duration", "_candidates")

    def __init__(self, duration: int) -> None:
        self.duration = duration
        # (time, value) pairs that can still become the extremum, best first.
        self._candidates: deque[tuple[int, float]] = deque()

    def expire(self, t: int) -> None:
        candidates, horizon = self._candidates, t - self.duration
        while candidates and candidates[0][0] <= horizon:
            candidates.popleft()

    @property
    def value(self) -> float | None:
        return self._candidates[0][1] if self._candidates else None

    def next_change(self) -> int | None:
        return self._candidates[0][0] + self.duration if self._candidates else None


# `add` is written out for each side, comparison and expiry inline: it runs for every event of
# every key with such a window.
class Min(_Extremum):
    """Smallest argument in the window (None when empty)."""

    __slots__ = ()

    def add(self, t: int, x: object) -> None:
        candidates, horizon = self._candidates, t - self.duration
        while candidates and candidates[0][0] <= horizon:
            candidates.popleft()
        if (type(x) is float or type(x) is int) and x == x:
            while candidates and candidates[-1][1] >= x:
                candidates.pop()
            candidates.append((t, x))


class Max(_Extremum):
    """Largest argument in the window (None when empty)."""

    __slots__ = ()

    def add(self, t: int, x: object) -> None:
        candidates, horizon = self._candidates, t - self.duration
        while candidates and candidates[0][0] <= horizon:
            candidates.popleft()
        if (type(x) is float or type(x) is int) and x == x:
            while candidates and candidates[-1][1] <= x:
                candidates.pop()
            candidates.append((t, x))
