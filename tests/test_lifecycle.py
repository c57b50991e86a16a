"""The episode state machine, as tables of observations at fixed instants (minutes)."""
from __future__ import annotations

import pytest

from engine.lifecycle import Episode, Level, Phase, Policy, advance, expire

M = 60_000
Y, OR, R = Level.yellow, Level.orange, Level.red

# Each step: ("see", minute, holds, clears, level) or ("tick", minute). Expected: (minute, change).
CASES = {
    "fires at once without for": (
        Policy(0, 0, 0), [("see", 0, True, False, Y)], [(0, "fired")]),
    "for: fires when the wait completes": (
        Policy(5 * M, 0, 0), [("see", 0, True, False, Y), ("see", 3, True, False, Y),
                              ("tick", 5)], [(5, "fired")]),
    "for: a false observation restarts the wait": (
        Policy(5 * M, 0, 0), [("see", 0, True, False, Y), ("see", 3, False, True, None),
                              ("see", 4, True, False, Y), ("tick", 8), ("tick", 9)],
        [(9, "fired")]),
    "ladder: a higher level while firing escalates the same episode": (
        Policy(0, 0, 0), [("see", 0, True, False, Y), ("see", 1, True, False, OR),
                          ("see", 2, True, False, Y), ("see", 3, True, False, R)],
        [(0, "fired"), (1, "escalated"), (3, "escalated")]),
    "clear without clear_for resolves at once": (
        Policy(0, 0, 0), [("see", 0, True, False, Y), ("see", 2, False, True, None)],
        [(0, "fired"), (2, "resolved")]),
    "clear_for: resolution waits and a relapse cancels it": (
        Policy(0, 2 * M, 0), [("see", 0, True, False, Y), ("see", 1, False, True, None),
                              ("see", 2, True, False, Y), ("see", 3, False, True, None),
                              ("tick", 5)],
        [(0, "fired"), (5, "resolved")]),
    "hysteresis band: neither holding nor clearing keeps it firing": (
        Policy(0, 0, 0), [("see", 0, True, False, Y), ("see", 1, False, False, None),
                          ("see", 2, False, True, None)],
        [(0, "fired"), (2, "resolved")]),
    "cooldown: no new episode for the key until it has passed": (
        Policy(0, 0, 10 * M), [("see", 0, True, False, Y), ("see", 1, False, True, None),
                               ("see", 5, True, False, Y), ("see", 6, False, True, None),
                               ("see", 11, True, False, Y)],
        [(0, "fired"), (1, "resolved"), (11, "fired")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_episode_transitions(name):
    policy, steps, expected = CASES[name]
    episode, changes = Episode(), []
    for step in steps:
        if step[0] == "see":
            _, minute, holds, clears, level = step
            change = advance(episode, policy, minute * M, holds=holds, clears=clears, level=level)
        else:
            change = expire(episode, policy, step[1] * M)
        if change:
            changes.append((episode.changed_at // M, change))
    assert changes == expected


def test_episode_start_is_when_the_condition_first_held_not_when_it_fired():
    episode = Episode()
    policy = Policy(5 * M, 0, 0)
    advance(episode, policy, 2 * M, holds=True, clears=False, level=Y)
    expire(episode, policy, 7 * M)
    assert (episode.phase, episode.starts_at, episode.changed_at) == (Phase.firing, 2 * M, 7 * M)


def test_pending_takes_the_highest_level_seen_before_firing():
    episode = Episode()
    policy = Policy(5 * M, 0, 0)
    for minute, level in [(0, Y), (1, R), (2, OR)]:
        advance(episode, policy, minute * M, holds=True, clears=False, level=level)
    expire(episode, policy, 5 * M)
    assert episode.level is R and episode.occurrences == 3
