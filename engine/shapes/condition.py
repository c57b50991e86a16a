"""The condition shape: `when` (threshold, frequency, spike, change and report rules).

The condition is evaluated on each matching event of the key, after the event has entered the
key's windows. Its verdict holds until the next matching event, with two exceptions that let an
alert end without new events: while an episode is pending or firing, the condition is evaluated
again whenever a window's contents expire (so `count(1h) >= 3` stops holding an hour after the
third-last report), and with `stale_after` a true verdict lapses when no matching event arrived
for that long (rules on reports lapse after an hour unless they say otherwise).
"""
from __future__ import annotations

from engine.lifecycle import Phase
from engine.rulefile import RuleSpec
from engine.shapes.base import Item, KeyState, Rule, compile_matcher, key_text

__all__ = ["ConditionRule"]

_TIMELESS_WINDOWS = ("previous", "first_seen")


class ConditionRule(Rule):
    def __init__(self, spec: RuleSpec, records: list, routed_fields: tuple[str, ...]) -> None:
        super().__init__(spec, records)
        self.matcher = compile_matcher(spec.match, skip=routed_fields)
        self.test = spec.when.test
        self.clear = spec.clear
        self.windowed = bool(spec.windows)
        self.time_windows = any(w.function not in _TIMELESS_WINDOWS for w in spec.windows)
        self.stale_after = spec.stale_after_ms

    def process(self, items: list[Item]) -> None:
        if not self.windowed:
            self._process_stateless(items)
            return
        matcher, key_of, states, test = self.matcher, self.key_of, self.states, self.test
        arguments = list(enumerate(self.window_arguments))
        timers = self.timers
        for t, _, _, event in items:
            if timers and timers[0][0] < t:
                self.fire_timers(t - 1)
            if matcher is not None and not matcher(event):
                continue
            key = key_of(event)
            state = states.get(key) if type(key) is str else None
            if state is None:
                keyed = self.state_for(event)
                if keyed is None:
                    continue
                key, state = keyed
            windows = state.windows
            for index, argument in arguments:
                windows[index].add(t, argument(event) if argument is not None else None)
            state.last = event
            state.last_t = t
            holds = test(event, windows)
            state.evidence.append(event)   # the lead-up matters: the events that made the count
            if holds or key in self.active:
                self._judge(key, state, t, holds)

    def _process_stateless(self, items: list[Item]) -> None:
        """A condition without windows needs no state until it holds: a key is looked up (and
        created) only when its condition holds or its episode is under way, so the common case,
        a normal reading, costs one call, and keys that never alert cost no memory."""
        matcher, key_of, states, test, active = (self.matcher, self.key_of, self.states,
                                                 self.test, self.active)
        timers, inactive = self.timers, Phase.inactive
        for t, _, _, event in items:
            if timers and timers[0][0] < t:
                self.fire_timers(t - 1)
            if matcher is not None and not matcher(event):
                continue
            holds = test(event, ())
            if not holds and not active:
                continue
            key = key_of(event)
            if type(key) is not str:
                key = key_text(key)
                if key is None:
                    self.unkeyed += 1
                    continue
            if not holds and key not in active:
                continue
            state = states.get(key)
            if state is None:
                state = states[key] = self.new_state()
            state.last = event
            state.last_t = t
            if holds:
                if state.episode.phase is inactive:
                    state.evidence.clear()
                state.evidence.append(event)
            self._judge(key, state, t, holds)

    def _judge(self, key: str, state: KeyState, t: int, holds: bool) -> None:
        event, windows = state.last, state.windows
        clears = self.clear.test(event, windows) if self.clear is not None else not holds
        level = self.level_for(event, windows) if holds else None
        if holds and self.stale_after:
            state.hold_until = t + self.stale_after
        self.observe_at(key, state, t, holds, clears, level)
        self.reschedule(key, state)

    def due(self, state: KeyState) -> int | None:
        due = super().due(state)
        if self.time_windows and state.episode.phase is not Phase.inactive:
            for window in state.windows:
                change = window.next_change()
                if change is not None and (due is None or change < due):
                    due = change
        return due

    def wake_shape(self, key: str, state: KeyState, at: int) -> None:
        if state.hold_until is not None and at >= state.hold_until:
            super().wake_shape(key, state, at)
            return
        if self.time_windows and state.episode.phase is not Phase.inactive:
            for window in state.windows:
                window.expire(at)
            self._judge(key, state, at, self.test(state.last, state.windows))
