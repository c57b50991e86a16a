"""Silences: maintenance windows during which matching alerts are recorded but not notified.

>>> window = Silence(id="s1", matchers={"location.building": "B7"}, starts_at=1_000,
...                  ends_at=5_000, author="ops", reason="pump maintenance")
>>> alert = {"location": {"building": "B7"}}
>>> mutes(alert, [window], now=2_000), mutes(alert, [window], now=5_000)
(True, False)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from engine.matchers import matches

__all__ = ["Silence", "mutes"]


class Silence(NamedTuple):
    id: str
    matchers: Mapping[str, Any]
    starts_at: int          # ms, inclusive
    ends_at: int            # ms, exclusive
    author: str
    reason: str

    def active(self, now: int) -> bool:
        return self.starts_at <= now < self.ends_at


def mutes(alert: Mapping[str, Any], silences: Iterable[Silence], *, now: int) -> bool:
    """Whether an active silence covers the alert at instant `now`."""
    return any(silence.active(now) and matches(alert, silence.matchers) for silence in silences)
