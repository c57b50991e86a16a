"""Event time: epoch milliseconds in, ISO 8601 out, and the range every time path checks.

Every instant that reaches the engine (an event's `ts`, a pack's switch time, a silence, a
query bound) goes through `parse_timestamp`, which refuses times outside 2000..2200: those are
almost always seconds sent as milliseconds (or the reverse), and a time before 1970 once made an
absence timer re-arm at its own instant forever. A written time is judged by the year it is
written in, so a schema's pattern on that year says exactly what is taken.

>>> parse_timestamp("2026-07-01T08:00:00+08:00"), format_timestamp(1782864000000)
(1782864000000, '2026-07-01T00:00:00.000Z')
>>> parse_timestamp(1782864000)
Traceback (most recent call last):
...
engine.refusals.EventError: ts: timestamp 1782864000 is outside 2000..2200 (epoch milliseconds expected, not seconds)
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.refusals import EventError, type_name

__all__ = ["parse_timestamp", "from_datetime", "format_timestamp", "format_local", "known_times",
           "MIN_MS", "MAX_MS"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MIN_MS = 946_684_800_000     # 2000-01-01
MAX_MS = 7_258_118_400_000   # 2200-01-01

# Texts already parsed, all of them in range: the decoder's fast path looks here first.
known_times: dict[str, int] = {}


def parse_timestamp(value: Any, field: str = "ts") -> int:
    """Event time in epoch milliseconds, from ISO 8601 with an offset or from epoch ms."""
    if type(value) is str:
        cached = known_times.get(value)
        if cached is not None:
            return cached
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise EventError(field, f"not an ISO 8601 timestamp: {value!r}") from None
        ms = from_datetime(moment, field)
        # Only a checked time is remembered: a cached text skips every check above.
        if len(known_times) >= 65_536:  # bounded: streams repeat recent times, not old ones
            known_times.clear()
        known_times[value] = ms
        return ms
    if type(value) is int:
        return _in_range(value, value, field)
    raise EventError(field, "expected an ISO 8601 string or integer epoch milliseconds, "
                            f"got {type_name(value)}")


def from_datetime(moment: datetime, field: str = "ts") -> int:
    """Epoch milliseconds of a time with a zone, written in the years 2000..2199.

    >>> from_datetime(datetime.fromisoformat("2000-01-01T00:30:00+08:00"))  # 1999 in UTC
    946657800000
    """
    if moment.tzinfo is None:
        raise EventError(field, "ISO 8601 timestamp needs a UTC offset (e.g. +08:00 or Z)")
    if not 2000 <= moment.year < 2200:
        raise EventError(field, f"year {moment.year} is outside 2000..2200")
    return (moment - _EPOCH) // _MS


def _in_range(ms: int, value: Any, field: str) -> int:
    if not MIN_MS <= ms < MAX_MS:
        raise EventError(field, f"timestamp {value!r} is outside 2000..2200 "
                                "(epoch milliseconds expected, not seconds)")
    return ms


def format_timestamp(ms: int) -> str:
    """ISO 8601 in UTC with millisecond precision, the form of every time ewe emits."""
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)   # several times faster than datetime's strftime
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{millis:03d}Z")


def format_local(ms: int, zone: str) -> str:
    """ISO 8601 in a time zone (an IANA name), to the second: how a person in the city reads it.

    >>> format_local(1782864000000, "Asia/Shanghai")
    '2026-07-01T08:00:00+08:00'
    """
    return (_EPOCH + ms * _MS).astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")
