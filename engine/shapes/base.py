"""What every rule shape shares: per-key state, keys, evidence, timers and alert records.

A shape (condition, absence, sequence) decides *whether its condition holds* at an instant of
event time; this base turns those observations into episodes through `engine.lifecycle` and into
alert records. A rule owns its per-key state (`states`) and its timers (a heap of instants at which
a key needs a look without an event). Rules share nothing, so the evaluator hands each rule the
whole batch of its events at once: `process(items)` runs one tight loop per rule and batch instead
of one call per event and rule, firing the rule's timers in between in event-time order.
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

from engine.events import LOCATION_FIELDS, Event, format_timestamp
from engine.expr import FIELD_NAMESPACE, compile_expression, field_code
from engine.identity import alert_id
from engine.lifecycle import Episode, Level, Phase, Policy, advance, expire
from engine.messages import AlertRecord, Evidence
from engine.rulefile import RuleSpec
from engine.windows import make_window

__all__ = ["Rule", "KeyState", "Item", "ROUTING_FIELDS", "EVIDENCE_LIMIT", "compile_getter",
           "compile_matcher", "compile_argument", "key_text"]

# A released event as the evaluator hands it over: (event time, id, arrival number, event).
Item = tuple[int, str, int, Event]

# Routing pre-filters each kind of event on one field through a dict lookup.
ROUTING_FIELDS = {"reading": "type", "report": "category"}

EVIDENCE_LIMIT = 5
_BEFORE_ANY_EVENT = -(2 ** 62)
_TEXT_EVIDENCE_CHARS = 200


class KeyState:
    """Everything a rule remembers about one key."""

    __slots__ = ("episode", "windows", "evidence", "last", "last_t", "hold_until", "queued",
                 "stages", "woken", "cause")

    def __init__(self, windows: list, evidence: int = EVIDENCE_LIMIT) -> None:
        self.episode = Episode()
        self.windows = windows
        self.evidence: deque[Event] = deque(maxlen=evidence)
        self.last: Event | None = None
        self.last_t = 0
        self.hold_until: int | None = None
        self.queued: int | None = None
        self.stages: list | None = None
        self.woken = _BEFORE_ANY_EVENT        # the instant a timer last woke the key
        self.cause: Event | None = None       # the event that fired or escalated the episode

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        # A checkpoint written before `woken` and `cause` existed restores with their defaults.
        state = (*state, _BEFORE_ANY_EVENT, None)[:len(self.__slots__)]
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def compile_getter(paths: tuple[str, ...]) -> Callable[[Event], Any]:
    """A function reading the key fields of an event: the raw value of a single field (callers
    pass a non-text through `key_text`), or the fields joined by '/', None if any is absent."""
    if len(paths) == 1 and "." not in paths[0]:
        field_code([paths[0]])             # refuses a field the envelope does not have
        return attrgetter(paths[0])        # C-implemented: the cheapest key there is
    parts = [field_code(path.split(".")) for path in paths]
    if len(parts) == 1:
        source = f"lambda e: {parts[0]}"
    else:
        source = f"lambda e: _join(({', '.join(parts)},))"
    return eval(source, dict(FIELD_NAMESPACE, _join=_join))


def compile_argument(source: str) -> Callable[[Event], Any]:
    """A window function's argument as a function of the event (None when undefined)."""
    if re.fullmatch(r"[A-Za-z]\w*", source):   # a plain field cannot be undefined: no guard
        field_code([source])                   # refuses a field the envelope does not have
        return attrgetter(source)
    expression = compile_expression(source, allow_windows=False).evaluate

    def argument(event: Event) -> Any:
        try:
            return expression(event, ())
        except (TypeError, AttributeError, ZeroDivisionError, ValueError):
            return None

    return argument


def compile_matcher(match: dict[str, tuple], skip: tuple[str, ...] = ()) -> Callable | None:
    """A predicate for the `match` conditions routing does not already guarantee (None if none
    are left)."""
    tests = []
    for path, values in match.items():
        if path in skip:
            continue
        code = field_code(path.split("."))
        tests.append(f"{code} == {values[0]!r}" if len(values) == 1 else f"{code} in {values!r}")
    if not tests:
        return None
    return eval(f"lambda e: {' and '.join(tests)}", dict(FIELD_NAMESPACE))


def key_text(value: Any) -> str | None:
    """A key field's value as text; None for a missing field or one that is not a scalar."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if type(value) is str else str(value)


def _join(values: tuple) -> str | None:
    texts = [key_text(value) for value in values]
    return None if None in texts else "/".join(texts)


class Rule:
    """A compiled rule of any shape; subclasses implement `process` and `wake_shape`.

    Records go to `records` as (instant, rule position, record): the evaluator merges the rules'
    records of a batch by instant and rule position, an order that does not depend on batching.
    """

    def __init__(self, spec: RuleSpec, records: list) -> None:
        self.spec = spec
        self.id = spec.id
        self.position = 0
        self.records = records
        self.timers: list[tuple[int, str]] = []
        self.policy = Policy(spec.for_ms, spec.clear_for_ms, spec.cooldown_ms)
        self.key_of = compile_getter(spec.key)
        self.states: dict[str, KeyState] = {}
        self.active: set[str] = set()   # keys whose episode is pending or firing
        self.unkeyed = 0
        self.window_arguments = [compile_argument(w.argument) if w.argument else None
                                 for w in spec.windows]
        # Rules of the same logic (the same rule with other ids, texts or labels) that this one
        # evaluates for: they share its states and timers, and it emits their records too.
        self.twins: list[Rule] = []

    def share(self, leader: Rule) -> None:
        """Be evaluated by `leader`, a rule of the same logic and the same state."""
        self.states, self.timers, self.active = leader.states, leader.timers, leader.active
        self.twins = []
        leader.twins.append(self)

    def new_state(self) -> KeyState:
        return KeyState([make_window(window) for window in self.spec.windows],
                        self.spec.evidence or EVIDENCE_LIMIT)

    def state_for(self, event: Event) -> tuple[str, KeyState] | None:
        key = self.key_of(event)
        if type(key) is not str:
            key = key_text(key)
            if key is None:
                self.unkeyed += 1
                return None
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = self.new_state()
        return key, state

    # -- the parts shapes call ------------------------------------------------------------------
    def level_for(self, event: Event, windows: list) -> Level:
        for condition, level in self.spec.severity:
            if condition is None or condition.test(event, windows):
                return level
        return self.spec.severity[-1][1]

    def observe_at(self, key: str, state: KeyState, t: int, holds: bool, clears: bool,
                   level: Level | None) -> None:
        """Feed one observation to the key's episode and emit what changed."""
        episode = state.episode
        change = advance(episode, self.policy, t, holds=holds, clears=clears, level=level)
        self._track(key, state)
        if change is None and holds and self.spec.evidence and episode.phase is Phase.firing:
            episode.changed_at = t      # one more event behind a firing alert: listed at once
            change = "updated"
        if change is not None:
            self.emit(key, state, change)

    def _track(self, key: str, state: KeyState) -> None:
        if state.episode.phase is Phase.inactive:
            self.active.discard(key)
        else:
            self.active.add(key)

    def process(self, items: list[Item]) -> None:
        """Evaluate a time-ordered batch of this rule's events (timers before each event).

        The shapes' loops look keys up inline rather than through `state_for`: avoiding a call
        per event and rule is the point of handing rules whole batches."""
        raise NotImplementedError

    def adopt(self, states: dict[str, KeyState], timers: list[tuple[int, str]]) -> None:
        """Take over per-key state and timers (from a snapshot)."""
        self.states, self.timers = states, timers
        self.active = {key for key, state in states.items()
                       if state.episode.phase is not Phase.inactive}

    def schedule(self, key: str, state: KeyState, at: int) -> None:
        # A key is woken once per instant: once a timer woke it at `woken`, every event up to
        # that instant has been seen, so whatever it still wants then cannot change without
        # an event, and a timer there again would fire again at once, without end.
        if at <= state.woken:
            return
        if state.queued is None or at < state.queued:
            state.queued = at
            heappush(self.timers, (at, key))

    def fire_timers(self, until: int) -> None:
        """Wake every key whose timer is at or before `until`, in time order."""
        timers = self.timers
        while timers and timers[0][0] <= until:
            at, key = heappop(timers)
            self.wake(key, at)

    def wake(self, key: str, at: int) -> None:
        """Event time reached `at` for this key: complete waits, expire holds and windows."""
        state = self.states.get(key)
        if state is None:
            return
        if state.queued == at:
            state.queued = None
        due = self.due(state)
        if due is not None and due <= at:
            state.woken = at
        if due is None:
            return
        if due > at:
            self.schedule(key, state, due)
            return
        change = expire(state.episode, self.policy, due)
        self._track(key, state)
        if change is not None:
            self.emit(key, state, change)
        self.wake_shape(key, state, due)
        self.reschedule(key, state)

    def wake_shape(self, key: str, state: KeyState, at: int) -> None:
        if state.hold_until is not None and at >= state.hold_until:
            state.hold_until = None
            if state.episode.phase is not Phase.inactive:
                self.observe_at(key, state, at, False, True, None)

    def due(self, state: KeyState) -> int | None:
        """The next instant at which this key needs a look without an event."""
        episode = state.episode
        if episode.phase is Phase.inactive:
            return None
        moments = [m for m in (episode.deadline(self.policy), state.hold_until) if m is not None]
        return min(moments) if moments else None

    def reschedule(self, key: str, state: KeyState) -> None:
        due = self.due(state)
        if due is not None:
            self.schedule(key, state, due)

    def emit(self, key: str, state: KeyState, change: str) -> None:
        if change == "resolved" and state.cause is not None:
            event = state.cause    # the alert still names what raised it, not what cleared it
        else:
            event = state.cause = state.last
        self.record(key, state, change, event)
        for twin in self.twins:
            twin.record(key, state, change, event)

    def record(self, key: str, state: KeyState, change: str, event: Event) -> None:
        episode = state.episode
        alert = {"key": key, "rule": self.id, "severity": episode.level.name,
                 "occurrences": episode.occurrences}
        self.records.append((episode.changed_at, self.position, AlertRecord(
            id=alert_id(self.id, key, episode.starts_at),
            rule=self.id,
            key=key,
            severity=episode.level.name,
            status="resolved" if change == "resolved" else "firing",
            change=change,
            at=format_timestamp(episode.changed_at),
            starts_at=format_timestamp(episode.starts_at),
            labels={**self.spec.labels,
                    **{name: template.render(event, alert)
                       for name, template in self.spec.label_templates.items()}}
            if self.spec.label_templates else self.spec.labels,
            title=self.spec.title,
            summary={lang: template.render(event, alert)
                     for lang, template in self.spec.summary.items()},
            location=_location(event.location),
            evidence=[_evidence(item) for item in state.evidence],
            occurrences=episode.occurrences,
        )))


def _evidence(event: Event) -> Evidence:
    if event.kind == "reading":
        return Evidence(id=event.id, ts=event.ts, device_id=event.device_id, type=event.type,
                        value=event.value)
    # Never the reporter: contact details stay in the center's ledger (see engine.privacy).
    if event.problem is None:           # a pack that does not read reports
        return Evidence(id=event.id, ts=event.ts, category=event.category,
                        text=event.text[:_TEXT_EVIDENCE_CHARS])
    return Evidence(id=event.id, ts=event.ts, category=event.category,
                    category_source=event.category_source,
                    category_confidence=event.category_confidence, problem=event.problem,
                    text=event.text[:_TEXT_EVIDENCE_CHARS])


def _location(location: Any) -> dict | None:
    if location is None:
        return None
    return {name: value for name in LOCATION_FIELDS
            if (value := getattr(location, name)) is not None}
