"""The usual level of a key, for spike rules: avg_count(W, over: O).

`avg_count(1h, over: 7d)` is the average number of events per hour in the reference period
(t - 7d, t - 1h], the part of the last week before the current hour, so that
`count(1h) > 3 * avg_count(1h, over: 7d)` compares this hour with the hours before it. A key that is
younger than the reference period still divides by the whole period: a new key's usual level is
low until it has history, which is why spike rules pair it with a floor such as `count(1h) >= 5`.

>>> usual = AvgCount(3_600_000, over=4 * 3_600_000)    # avg_count(1h, over: 4h)
>>> for hour in range(4):                                # one event an hour...
...     usual.add(hour * 3_600_000 + 1, None)
>>> usual.value                                          # ...3 in the 3 reference hours
1.0
"""
from __future__ import annotations

from collections import deque

__all__ = ["AvgCount"]


class AvgCount:
    __slots__ = ("duration", "over", "_recent", "_reference")

    def __init__(self, duration: int, over: int) -> None:
        self.duration = duration
        self.over = over
        self._recent: deque[int] = deque()      # times in (t - W, t]
        self._reference: deque[int] = deque()   # times in (t - O, t - W]

    def add(self, t: int, x: object = None) -> None:
        self.expire(t)
        self._recent.append(t)

    def expire(self, t: int) -> None:
        recent, reference = self._recent, self._reference
        boundary = t - self.duration
        while recent and recent[0] <= boundary:
            reference.append(recent.popleft())
        horizon = t - self.over
        while reference and reference[0] <= horizon:
            reference.popleft()

    @property
    def value(self) -> float:
        return len(self._reference) * self.duration / (self.over - self.duration)

    def next_change(self) -> int | None:
        moments = []
        if self._recent:
            moments.append(self._recent[0] + self.duration)
        if self._reference:
            moments.append(self._reference[0] + self.over)
        return min(moments) if moments else None
