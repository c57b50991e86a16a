"""Duty rosters (值班表): who of a department is on duty at an instant.

A roster is a department's shifts: a weekly pattern (`days`, `from`, `to`, in the city's local
time) and dated overrides (`date`) for holidays and swaps, each naming its handlers in order:
the first takes a dispatch, the next takes over when a deadline is missed. A shift whose `to`
is not after its `from` runs past midnight and belongs to the day it starts. Where an override
covers the instant, it alone counts; otherwise every weekly shift that covers it, in the order
written.

>>> roster = Roster((Shift(frozenset(range(5)), None, 8 * 60, 20 * 60, ("王队长", "李班长")),
...                  Shift(frozenset(range(7)), None, 20 * 60, 8 * 60, ("张值班",)),
...                  Shift(frozenset(), date(2026, 10, 1), 0, 24 * 60, ("赵主任",))))
>>> zone = ZoneInfo("Asia/Shanghai")
>>> at = lambda text: int(datetime.fromisoformat(text).timestamp() * 1000)
>>> roster.on_duty(at("2026-07-01T09:00:00+08:00"), zone)      # a Wednesday morning
('王队长', '李班长')
>>> roster.on_duty(at("2026-07-02T03:00:00+08:00"), zone)      # the night shift of the 1st
('张值班',)
>>> roster.on_duty(at("2026-10-01T09:00:00+08:00"), zone)      # National Day: the override
('赵主任',)
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = ["Shift", "Roster", "DAY_NAMES", "parse_clock"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 24 * 60


class Shift(NamedTuple):
    days: frozenset[int]        # weekdays (0 = Monday) of a weekly shift; empty for an override
    date: date | None           # the day of an override
    start: int                  # minutes after local midnight
    end: int                    # minutes; not after `start`: the shift ends the next day
    handlers: tuple[str, ...]

    def covers(self, day: date, minute: int) -> bool:
        """Whether the shift covers local `minute` of `day`: as begun that day, or, past
        midnight, the day before."""
        length = (self.end - self.start) % _DAY or _DAY
        return any(self._starts_on(start_day) and 0 <= minute + offset - self.start < length
                   for start_day, offset in ((day, 0), (day - timedelta(days=1), _DAY)))

    def _starts_on(self, day: date) -> bool:
        return day == self.date if self.date is not None else day.weekday() in self.days


class Roster(NamedTuple):
    shifts: tuple[Shift, ...]

    def on_duty(self, at_ms: int, zone: ZoneInfo) -> tuple[str, ...]:
        """The handlers on duty at `at_ms`, in the order they take over."""
        local = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone)
        day, minute = local.date(), local.hour * 60 + local.minute
        covering = [shift for shift in self.shifts if shift.covers(day, minute)]
        overrides = [shift for shift in covering if shift.date is not None]
        handlers: dict[str, None] = {}
        for shift in overrides or covering:
            handlers.update(dict.fromkeys(shift.handlers))
        return tuple(handlers)


def parse_clock(text: str) -> int:
    """Minutes after midnight of `HH:MM` (00:00 to 24:00); ValueError otherwise.

    >>> parse_clock("08:30"), parse_clock("24:00")
    (510, 1440)
    """
    hours, _, minutes = str(text).partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"expected a time of day HH:MM, e.g. 08:00, not {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > _DAY:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    return value
