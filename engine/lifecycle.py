"""The alert lifecycle of one rule and key: inactive → pending → firing → resolved.

All of `for`, `clear_for`, `cooldown` and escalation are decided here and nowhere else. The rule
shapes only say, at an instant of event time, whether the condition holds and whether the clear
condition holds; `advance` moves the episode and returns what changed. Timers are the caller's:
`Episode.deadline()` says when the episode next needs a look without an event, and `expire`
completes a `for:` or `clear_for:` wait at that instant.

>>> policy = Policy(for_ms=300_000, clear_for_ms=0, cooldown_ms=0)
>>> episode = Episode()
>>> advance(episode, policy, 0, holds=True, clears=False, level=Level.yellow)
>>> episode.phase.name, episode.deadline(policy)
('pending', 300000)
>>> expire(episode, policy, 300_000)
'fired'
>>> advance(episode, policy, 360_000, holds=True, clears=False, level=Level.red)
'escalated'
>>> advance(episode, policy, 420_000, holds=False, clears=True, level=None)
'resolved'
"""
from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

__all__ = ["Level", "Phase", "Policy", "Episode", "advance", "expire"]


class Level(IntEnum):
    """The four-colour warning scale: blue (IV, general) < yellow (III) < orange (II) < red (I)."""

    blue = 1
    yellow = 2
    orange = 3
    red = 4


class Phase(IntEnum):
    inactive = 0
    pending = 1
    firing = 2


class Policy(NamedTuple):
    for_ms: int
    clear_for_ms: int
    cooldown_ms: int


# Before any instant an event can have: "no cooldown yet" must hold at every event time.
_NEVER = -(2 ** 62)


class Episode:
    """The instants of the current episode; `starts_at` is the episode's identity in time."""

    __slots__ = ("phase", "starts_at", "changed_at", "clear_since", "cooldown_until", "level",
                 "occurrences")

    def __init__(self) -> None:
        self.phase = Phase.inactive
        self.starts_at = 0
        self.changed_at = 0  # the instant of the last change: fired, escalated or resolved
        self.clear_since: int | None = None
        self.cooldown_until = _NEVER
        self.level = Level.blue
        self.occurrences = 0

    def deadline(self, policy: Policy) -> int | None:
        """When `expire` may next change this episode (None: only an event can)."""
        if self.phase is Phase.pending:
            return self.starts_at + policy.for_ms
        if self.phase is Phase.firing and self.clear_since is not None:
            return self.clear_since + policy.clear_for_ms
        return None

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def advance(episode: Episode, policy: Policy, t: int, *, holds: bool, clears: bool,
            level: Level | None) -> str | None:
    """Apply one observation at event time t; returns 'fired', 'escalated', 'resolved' or None.

    `holds` is the rule's condition, `clears` its clear condition (by default `not holds`);
    `level` is the severity the observation calls for when the condition holds.
    """
    phase = episode.phase
    if phase is Phase.inactive:
        if not holds or t < episode.cooldown_until:
            return None
        episode.starts_at = t
        episode.level = level
        episode.occurrences = 1
        episode.clear_since = None
        if policy.for_ms <= 0:
            episode.phase = Phase.firing
            episode.changed_at = t
            return "fired"
        episode.phase = Phase.pending
        return None
    if phase is Phase.pending:
        if not holds:
            episode.phase = Phase.inactive
            return None
        episode.occurrences += 1
        if level > episode.level:
            episode.level = level
        return None
    # firing
    if holds:
        episode.occurrences += 1
    if clears:
        if episode.clear_since is None:
            episode.clear_since = t
        if t - episode.clear_since >= policy.clear_for_ms:
            return _resolve(episode, policy, episode.clear_since + policy.clear_for_ms)
        return None
    episode.clear_since = None
    if holds and level > episode.level:
        episode.level = level
        episode.changed_at = t
        return "escalated"
    return None


def expire(episode: Episode, policy: Policy, t: int) -> str | None:
    """Let event time reach t with no new observation: completes `for:` and `clear_for:` waits."""
    if episode.phase is Phase.pending and t >= episode.starts_at + policy.for_ms:
        episode.phase = Phase.firing
        episode.changed_at = episode.starts_at + policy.for_ms
        return "fired"
    if (episode.phase is Phase.firing and episode.clear_since is not None
            and t >= episode.clear_since + policy.clear_for_ms):
        return _resolve(episode, policy, episode.clear_since + policy.clear_for_ms)
    return None


def _resolve(episode: Episode, policy: Policy, at: int) -> str:
    episode.phase = Phase.inactive
    episode.changed_at = at
    episode.cooldown_until = at + policy.cooldown_ms
    return "resolved"
