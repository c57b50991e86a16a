"""The sequence shape: steps that must follow each other for one key `within` a duration.

Each step has its own `match` and optional `when` (with its own windows, over the events that
match that step). The rule remembers, per step, the start of the latest partial sequence that has
reached it; an event completing the last step within `within` of that start makes the condition
hold for `within` (then it lapses, unless completed again). One event never serves two steps.
"""
from __future__ import annotations

from engine.events import Event
from engine.rulefile import RuleSpec
from engine.shapes.base import (
    ROUTING_FIELDS,
    Item,
    KeyState,
    Rule,
    compile_argument,
    compile_matcher,
)
from engine.windows import make_window

__all__ = ["SequenceRule"]


class SequenceRule(Rule):
    def __init__(self, spec: RuleSpec, records: list) -> None:
        super().__init__(spec, records)
        self.within = spec.within_ms
        # Candidate steps come from routing (see below), which settles a step's kind and, for
        # a step of one kind, its routing field: the matchers test only what is left.
        self.steps = [(compile_matcher(step.match, skip=_routed(step.kinds)), step.when,
                       [compile_argument(w.argument) if w.argument else None
                        for w in step.windows], step.windows)
                      for step in spec.sequence]
        self.last_step = len(self.steps) - 1
        # Which steps an event can serve, by its kind and routing field (type or category).
        self.unrouted = {kind: [i for i in range(self.last_step, -1, -1)
                                if kind in spec.sequence[i].kinds
                                and ROUTING_FIELDS[kind] not in spec.sequence[i].match]
                         for kind in ROUTING_FIELDS}
        self.candidates: dict[tuple[str, object], list[int]] = {}
        for step in spec.sequence:
            for kind in step.kinds:
                for value in step.match.get(ROUTING_FIELDS[kind], ()):
                    self.candidates.setdefault((kind, value), [])
        for (kind, value), indices in self.candidates.items():
            indices.extend(i for i in range(self.last_step, -1, -1)
                           if kind in spec.sequence[i].kinds and (
                               ROUTING_FIELDS[kind] not in spec.sequence[i].match
                               or value in spec.sequence[i].match[ROUTING_FIELDS[kind]]))

    def new_state(self) -> KeyState:
        state = KeyState([[make_window(w) for w in windows] for *_, windows in self.steps])
        state.stages = [None] * len(self.steps)
        return state

    def process(self, items: list[Item]) -> None:
        timers, candidates, unrouted = self.timers, self.candidates, self.unrouted
        for t, _, _, event in items:
            if timers and timers[0][0] < t:
                self.fire_timers(t - 1)
            route = event.type if event.kind == "reading" else event.category
            self.observe(t, event, candidates.get((event.kind, route), unrouted[event.kind]))

    def observe(self, t: int, event: Event, indices: list[int]) -> None:
        """Try the event on the candidate steps, last step first, so that one event never
        serves two steps."""
        keyed = None
        for index in indices:
            matcher, when, arguments, _ = self.steps[index]
            if matcher is not None and not matcher(event):
                continue
            if not arguments and when is not None and not when.test(event, ()):
                continue     # a step without windows says no without the key's state
            if keyed is None:
                keyed = self.state_for(event)
                if keyed is None:
                    return
            key, state = keyed
            if arguments:
                windows = state.windows[index]
                for window, argument in zip(windows, arguments, strict=True):
                    window.add(t, argument(event) if argument is not None else None)
                if when is not None and not when.test(event, windows):
                    continue
            stages = state.stages
            if index == 0:
                stages[1] = t
                state.evidence.append(event)
                continue
            start = stages[index]
            if start is None or t - start > self.within:
                continue
            state.evidence.append(event)
            if index < self.last_step:
                if stages[index + 1] is None or start > stages[index + 1]:
                    stages[index + 1] = start
                continue
            state.stages = [None] * len(self.steps)
            state.last = event
            state.last_t = t
            state.hold_until = t + self.within
            self.observe_at(key, state, t, True, False, self.level_for(event, []))
            self.reschedule(key, state)


def _routed(kinds: tuple[str, ...]) -> tuple[str, ...]:
    return ("kind", ROUTING_FIELDS[kinds[0]]) if len(kinds) == 1 else ("kind",)
