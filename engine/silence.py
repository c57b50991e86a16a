"""Silences: maintenance windows during which matching alerts are recorded but not notified.

>>> window = Silence(id="s1", matchers={"location.building": "B7"}, starts_at=1_000,
...                  ends_at=5_000, author="ops", reason="pump maintenance")
>>> alert = {"location": {"building": "B7"}}
>>> mutes(alert, [window], now=2_000), mutes(alert, [window], now=5_000)
(True, False)

Who may silence what, and for how long, is bounded per severity and role (the duty list's
`silences:`): a silence reaches every severity its matchers do not rule out, so one without a
`severity` matcher is judged as a red one.

>>> refusal(DEFAULT_LIMITS, role="rule_author", matchers={"location.building": "B7"},
...         starts_at=0, ends_at=3_600_000, now=0)
'role rule_author may not silence red alerts (add a severity matcher to leave them out)'
>>> refusal(DEFAULT_LIMITS, role="operator", matchers={"severity": "red"},
...         starts_at=0, ends_at=86_400_000, now=0)
'role operator may silence red alerts for 4h at most, not 1d'
>>> print(refusal(DEFAULT_LIMITS, role="operator", matchers={"location.building": "B7"},
...               starts_at=0, ends_at=28_482_385, now=0))  # doctest: +NORMALIZE_WHITESPACE
role operator may silence red alerts for 4h at most, not 7h55m
(add a severity matcher to leave them out)
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from engine.durations import format_duration
from engine.lifecycle import Level
from engine.matchers import matches

__all__ = ["Silence", "mutes", "refusal", "DEFAULT_LIMITS", "MAX_LEAD_MS"]

_HOUR, _DAY = 3_600_000, 86_400_000
# severity -> role -> the longest silence it may set
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "red": {"operator": 4 * _HOUR, "admin": _DAY},
    "orange": {"operator": _DAY, "rule_author": 4 * _HOUR, "admin": 3 * _DAY},
    "yellow": {"operator": 3 * _DAY, "rule_author": _DAY, "admin": 7 * _DAY},
    "blue": {"operator": 7 * _DAY, "rule_author": 7 * _DAY, "admin": 30 * _DAY},
}
# A maintenance window is planned days ahead, not years.
MAX_LEAD_MS = 30 * _DAY


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


def refusal(limits: Mapping[str, Mapping[str, int]], *, role: str,
            matchers: Mapping[str, Any], starts_at: int, ends_at: int, now: int) -> str | None:
    """Why `role` may not set this silence (None: it may)."""
    if ends_at <= starts_at:
        return "a silence must end after it starts"
    if starts_at - now > MAX_LEAD_MS:
        return f"a silence starts within {format_duration(MAX_LEAD_MS)} from now"
    severity = matchers.get("severity")
    reached = [severity] if severity in Level.__members__ else list(Level.__members__)
    length = ends_at - max(starts_at, now)
    hint = "" if severity is not None else " (add a severity matcher to leave them out)"
    for level in sorted(reached, key=Level.__getitem__, reverse=True):
        longest = limits.get(level, {}).get(role)
        if longest is None:
            return f"role {role} may not silence {level} alerts{hint}"
        if length > longest:
            asked = -(-length // 60_000) * 60_000    # to the minute: "7h55m", not "7h54m42s385ms"
            return (f"role {role} may silence {level} alerts for {format_duration(longest)} at "
                    f"most, not {format_duration(asked)}{hint}")
    return None
