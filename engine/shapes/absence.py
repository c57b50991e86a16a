"""The absence shape: `absent_for` (missing heartbeat, no water use, flatline of a feed).

A key is known from its first matching event. When event time passes its last event by
`absent_for`, the condition starts to hold (the episode starts at that instant, not at the last
event); the key's next matching event ends it. Absence is decided by the watermark, never by the
wall clock, so a replay raises exactly the absences the live stream raised.
"""
from __future__ import annotations

from engine.lifecycle import Phase
from engine.rulefile import RuleSpec
from engine.shapes.base import Item, KeyState, Rule, compile_matcher

__all__ = ["AbsenceRule"]


class AbsenceRule(Rule):
    def __init__(self, spec: RuleSpec, records: list, routed_fields: tuple[str, ...]) -> None:
        super().__init__(spec, records)
        self.matcher = compile_matcher(spec.match, skip=routed_fields)
        self.absent_for = spec.absent_for_ms

    def process(self, items: list[Item]) -> None:
        matcher, key_of, states, timers = self.matcher, self.key_of, self.states, self.timers
        absent_for, inactive = self.absent_for, Phase.inactive
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
            state.last = event
            state.last_t = t
            if state.episode.phase is not inactive:
                state.evidence.append(event)       # the event that ends the silence
                self.observe_at(key, state, t, False, True, None)
                self.reschedule(key, state)
            elif state.queued is None:
                # One timer per key at a time: when it fires early (the key spoke since), the
                # wake-up moves it to the new deadline instead of queueing one per event.
                self.schedule(key, state, t + absent_for)

    def due(self, state: KeyState) -> int | None:
        if state.episode.phase is Phase.inactive:
            return state.last_t + self.absent_for
        return super().due(state)

    def wake_shape(self, key: str, state: KeyState, at: int) -> None:
        silent_since = state.last_t + self.absent_for
        if state.episode.phase is Phase.inactive and at >= silent_since:
            state.evidence.clear()
            state.evidence.append(state.last)   # the last event before the silence
            level = self.level_for(state.last, state.windows)
            self.observe_at(key, state, silent_since, True, False, level)
