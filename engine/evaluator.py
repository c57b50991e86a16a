"""The engine's facade: events in (with event time), alert records out.

An `Evaluator` holds one partition's worth of state: the compiled rules of a pack, their per-key
state, the timer queue and a reorder buffer. Events may arrive out of order by up to `lateness`:
they wait in the buffer until the watermark (the largest event time seen, minus the lateness)
passes them, and are then evaluated in (event time, id) order, so any arrival order within the
lateness gives the same alerts. An event older than the watermark is *late*: it is not evaluated
but returned as such, for the caller to count and dead-letter.

Timers (`for:` completions, `clear_for:`, absences, lapsing verdicts) fire when the watermark
passes them, interleaved with the events in time order. A timer at t fires after the events at t:
it sees the instant whole (a sliding window that loses its oldest reading at t and gains a new one
at t never looks emptier than it is).
The evaluator never reads a clock: in a live stream the caller moves the watermark of an idle
partition with `advance`; at the end of a replay, `flush` evaluates everything that was buffered.

>>> from engine.pack import Pack
>>> pack = Pack.from_text('''
... rules:
...   - id: water.high
...     on: reading
...     match: {type: water_level}
...     when: value >= 0.15
...     for: 2m
...     severity: yellow
... ''')
>>> evaluator = Evaluator(pack, lateness_ms=60_000)
>>> from engine.events import Event
>>> events = [(1782864000000 + minute * 60_000,
...            Event("reading", f"r{minute}", 0, device_id="wl-1", type="water_level", value=0.2))
...           for minute in range(5)]
>>> [(a["change"], a["at"]) for a in evaluator.process(events).alerts]
[('fired', '2026-07-01T00:02:00.000Z')]
"""
from __future__ import annotations

import pickle
from bisect import bisect_left, insort
from heapq import heappop
from operator import attrgetter
from typing import Iterable, NamedTuple

from engine.events import Event
from engine.pack import Pack
from engine.shapes import ROUTING_FIELDS, Clock, Rule, build

__all__ = ["Evaluator", "Output", "DEFAULT_LATENESS_MS"]

DEFAULT_LATENESS_MS = 120_000
_NO_WATERMARK = -(2 ** 62)


class Output(NamedTuple):
    alerts: list[dict]
    late: list[tuple[int, Event]]


class Evaluator:
    def __init__(self, pack: Pack, *, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        if lateness_ms < 0:
            raise ValueError("lateness_ms must be zero or more")
        self.lateness_ms = lateness_ms
        self.clock = Clock()
        self.rules: dict[str, Rule] = {}
        self.max_time = _NO_WATERMARK
        self.watermark = _NO_WATERMARK
        self.events_in = 0
        self.events_late = 0
        self._pending: list[tuple[int, str, int, Event]] = []
        self._arrivals = 0
        self._routes: dict[str, tuple[str, dict[object, list[Rule]], list[Rule]]] = {}
        self.load(pack)

    # -- rules -----------------------------------------------------------------------------------
    def load(self, pack: Pack) -> None:
        """Switch to `pack`; rules whose id and definition did not change keep their state."""
        previous = self.rules
        self.rules = {}
        for spec in pack.specs:
            rule = build(spec, self.clock)
            old = previous.get(spec.id)
            if old is not None and old.spec.fingerprint == spec.fingerprint:
                rule.states = old.states
            self.rules[spec.id] = rule
        self._routes = _routes(list(self.rules.values()))

    # -- events ----------------------------------------------------------------------------------
    def process(self, events: Iterable[tuple[int, Event]]) -> Output:
        """Accept a batch of (event time ms, event); evaluate what the watermark now allows."""
        late = []
        pending = self._pending
        lateness = self.lateness_ms
        for t, event in events:
            if t < self.watermark:
                late.append((t, event))
                continue
            self._arrivals += 1
            item = (t, event.id, self._arrivals, event)
            if not pending or item > pending[-1]:
                pending.append(item)
            else:
                insort(pending, item)
            if t > self.max_time:
                self.max_time = t
                self.watermark = t - lateness
        self.events_in += len(late)
        self.events_late += len(late)
        return Output(self._release(self.watermark), late)

    def advance(self, watermark: int) -> Output:
        """Move the watermark forward without events (an idle partition in a live stream)."""
        if watermark > self.watermark:
            self.watermark = watermark
        return Output(self._release(self.watermark), [])

    def flush(self) -> Output:
        """End of input: evaluate every buffered event and the timers up to the last event time."""
        if self.max_time == _NO_WATERMARK:
            return Output([], [])
        return self.advance(self.max_time + 1)

    def _release(self, watermark: int) -> list[dict]:
        pending = self._pending
        cut = bisect_left(pending, (watermark,))
        timers = self.clock.timers
        routes = self._routes
        for t, _, _, event in pending[:cut]:
            if timers and timers[0][0] < t:
                self._fire_timers(t - 1)
            route_value, table, others = routes[event.kind]
            for rule in table.get(route_value(event), others):
                rule.observe(t, event)
        del pending[:cut]
        self.events_in += cut
        self._fire_timers(watermark - 1)
        records = self.clock.records
        self.clock.records = []
        return records

    def _fire_timers(self, until: int) -> None:
        timers, rules = self.clock.timers, self.rules
        while timers and timers[0][0] <= until:
            at, _, rule_id, key = heappop(timers)
            rule = rules.get(rule_id)
            if rule is not None:
                rule.wake(key, at)

    # -- state -----------------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """Every piece of state, restorable into an evaluator of the same pack."""
        states = {rule_id: (rule.spec.fingerprint, rule.states) for rule_id, rule in
                  self.rules.items()}
        return pickle.dumps((states, self.clock.timers, self.clock.sequence, self._pending,
                             self._arrivals, self.max_time, self.watermark, self.events_in,
                             self.events_late), protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, snapshot: bytes) -> None:
        (states, timers, sequence, self._pending, self._arrivals, self.max_time, self.watermark,
         self.events_in, self.events_late) = pickle.loads(snapshot)
        self.clock.timers, self.clock.sequence = timers, sequence
        for rule_id, (fingerprint, rule_states) in states.items():
            rule = self.rules.get(rule_id)
            if rule is not None and rule.spec.fingerprint == fingerprint:
                rule.states = rule_states

    def stats(self) -> dict[str, int]:
        return {"events": self.events_in, "late": self.events_late,
                "pending": len(self._pending), "timers": len(self.clock.timers),
                "keys": sum(len(rule.states) for rule in self.rules.values())}


def _routes(rules: list[Rule]) -> dict[str, tuple[str, dict[object, list[Rule]], list[Rule]]]:
    """Per kind: the routing field, the rules for each of its values, the rules for any value.

    Lists keep the pack's order, so one event's alerts always come out in the same order.
    """
    routes = {}
    for kind, field in ROUTING_FIELDS.items():
        wanted = {rule.id: _wanted_values(rule, kind, field) for rule in rules}
        values = {value for want in wanted.values() if want not in (None, "any") for value in want}
        anywhere = [rule for rule in rules if wanted[rule.id] == "any"]
        table = {value: [rule for rule in rules if wanted[rule.id] == "any" or (
                    wanted[rule.id] is not None and value in wanted[rule.id])]
                 for value in values}
        routes[kind] = (attrgetter(field), table, anywhere)
    return routes


def _wanted_values(rule: Rule, kind: str, field: str) -> set | str | None:
    """Which values of the routing field a rule needs: a set, "any", or None (not this kind)."""
    spec = rule.spec
    matches = [step.match for step in spec.sequence if kind in step.kinds] if spec.sequence else (
        [spec.match] if kind in spec.match.get("kind", spec.on) else [])
    if not matches:
        return None
    if any(field not in match for match in matches):
        return "any"
    return {value for match in matches for value in match[field]}
