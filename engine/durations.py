"""Durations as rule authors write them: `30s`, `5m`, `2h`, `1d`, `1w`, or compounds like `1h30m`.

>>> parse_duration("1h30m")
5400000
>>> format_duration(5400000)
'1h30m'
>>> parse_duration("5 minutes")
Traceback (most recent call last):
...
ValueError: bad duration '5 minutes': expected a number and a unit (ms, s, m, h, d, w), e.g. 5m or 1h30m
"""
from __future__ import annotations

import re

__all__ = ["parse_duration", "format_duration", "MAX_DURATION_MS"]

_UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")


# Windows, waits and absences of rules and settings are minutes to weeks; a year is plenty.
MAX_DURATION_MS = 366 * 86_400_000


def parse_duration(text: str) -> int:
    """Milliseconds in a duration string, at most a year; `ValueError` with the reason
    otherwise."""
    if not isinstance(text, str) or len(text) > 40 or not _WHOLE.fullmatch(text):
        raise ValueError(f"bad duration {text[:40] if isinstance(text, str) else text!r}: "
                         "expected a number and a unit (ms, s, m, h, d, w), e.g. 5m or 1h30m")
    ms = sum(int(count) * _UNITS_MS[unit] for count, unit in _PART.findall(text))
    if ms > MAX_DURATION_MS:
        raise ValueError(f"duration {text!r} is longer than a year (366d)")
    return ms


def format_duration(ms: int) -> str:
    """The shortest compound form of a duration in milliseconds (`0s` for zero)."""
    parts = []
    for unit, size in _UNITS_MS.items():
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts) or "0s"
