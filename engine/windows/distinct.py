"""Windows over values rather than numbers: distinct(...), first_seen(...) and previous(...).

>>> window = Distinct(3_600_000)                # distinct(attrs.fault_code, 1h)
>>> for minute, code in [(0, "E1"), (10, "E2"), (20, "E1")]:
...     window.add(minute * 60_000, code)
>>> window.value
2
>>> seen = FirstSeen(30 * 86_400_000)           # first_seen(attrs.fault_code, 30d)
>>> seen.add(0, "E1"); seen.value
True
>>> seen.add(60_000, "E1"); seen.value
False
"""
from __future__ import annotations

from collections import deque
from collections.abc import Hashable

__all__ = ["Distinct", "FirstSeen", "Previous"]


class Distinct:
    """Number of distinct non-null argument values in the window."""

    __slots__ = ("duration", "_items", "_counts")

    def __init__(self, duration: int) -> None:
        self.duration = duration
        self._items: deque[tuple[int, Hashable]] = deque()
        self._counts: dict[Hashable, int] = {}

    def add(self, t: int, x: object) -> None:
        self.expire(t)
        if x is None or isinstance(x, (dict, list)):
            return
        self._items.append((t, x))
        self._counts[x] = self._counts.get(x, 0) + 1

    def expire(self, t: int) -> None:
        items, counts, horizon = self._items, self._counts, t - self.duration
        while items and items[0][0] <= horizon:
            _, x = items.popleft()
            remaining = counts[x] - 1
            if remaining:
                counts[x] = remaining
            else:
                del counts[x]

    @property
    def value(self) -> int:
        return len(self._counts)

    def next_change(self) -> int | None:
        return self._items[0][0] + self.duration if self._items else None


class FirstSeen:
    """True when the current event's value was not seen for the key within the window before it."""

    __slots__ = ("duration", "_last_seen", "_pruned_at_size", "value")

    def __init__(self, duration: int) -> None:
        self.duration = duration
        self._last_seen: dict[Hashable, int] = {}
        self._pruned_at_size = 64
        self.value: bool | None = None

    def add(self, t: int, x: object) -> None:
        if x is None or isinstance(x, (dict, list)):
            self.value = None
            return
        last = self._last_seen.get(x)
        self.value = last is None or last <= t - self.duration
        self._last_seen[x] = t
        if len(self._last_seen) > self._pruned_at_size:
            horizon = t - self.duration
            self._last_seen = {v: s for v, s in self._last_seen.items() if s > horizon}
            self._pruned_at_size = max(64, 2 * len(self._last_seen))

    def expire(self, t: int) -> None:
        pass

    def next_change(self) -> None:
        return None


class Previous:
    """The argument's value on the key's previous matching event (None on the first)."""

    __slots__ = ("_last", "value")

    def __init__(self, duration: int = 0) -> None:
        self._last: object = None
        self.value: object = None

    def add(self, t: int, x: object) -> None:
        self.value = self._last
        self._last = x

    def expire(self, t: int) -> None:
        pass

    def next_change(self) -> None:
        return None
