"""The engine's facade: events in (with event time), alert records out.

An `Evaluator` holds one partition's worth of state: the compiled rules of a pack, their per-key
state, the timer queue and a reorder buffer. Events may arrive out of order by up to `lateness`:
they wait in the buffer until the watermark (the largest event time seen, minus the lateness)
passes them, and are then evaluated in (event time, id) order, so any arrival order within the
lateness gives the same alerts. An event older than the watermark is *late*: it is not evaluated
but returned as such, for the caller to count and dead-letter. An event with the same time and id
as one in the buffer is a *duplicate* (a producer's retry, a gateway sending twice): it is counted
and dropped, so a re-sent batch does not count twice in windows; the first to arrive is kept.

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
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from heapq import heappop, heappush
from typing import NamedTuple

from engine.dispatch import Index, entries_of, indexed_paths
from engine.events import Event
from engine.messages import AlertRecord
from engine.models import Model
from engine.pack import Pack
from engine.reports.reader import Reader
from engine.shapes import Item, Rule, build
from engine.shapes.base import key_text

__all__ = ["Evaluator", "Output", "Quarantine", "DEFAULT_LATENESS_MS"]

DEFAULT_LATENESS_MS = 120_000
_NO_WATERMARK = -(2 ** 62)
_NO_LIMIT = 2 ** 62


class Output(NamedTuple):
    alerts: list[AlertRecord]
    late: list[tuple[int, Event]]


class Quarantine(NamedTuple):
    """A rule or model taken out after it failed: why, and the event time of the batch (or
    the timer) it failed on."""

    id: str
    fingerprint: str
    reason: str
    at: int | None


class Evaluator:
    def __init__(self, pack: Pack, *, lateness_ms: int = DEFAULT_LATENESS_MS,
                 scan: bool = False) -> None:
        """`scan`: dispatch on kind and type or category only, every other `match` condition
        tested rule by rule (the evaluator before the index, kept to check the index against)."""
        if lateness_ms < 0:
            raise ValueError("lateness_ms must be zero or more")
        self.lateness_ms = lateness_ms
        self.scan = scan
        self.rules: dict[str, Rule] = {}
        self.models: dict[str, Model] = {}
        self.max_time = _NO_WATERMARK
        self.watermark = _NO_WATERMARK
        self._sources: dict[str, int] = {}    # input -> the largest event time it delivered
        self._holding: set[str] = set()       # inputs with data on the way
        self.events_in = 0
        self.events_late = 0
        self.events_duplicate = 0
        self.evaluations: Counter[str] = Counter()   # events routed to each rule, for metrics
        self._records: list[tuple[int, int, dict]] = []
        self._pending: list[Item] = []      # in (time, id) order, as most events arrive
        self._stragglers: list[Item] = []   # a heap of those that arrived out of order
        self._arrivals = 0
        self._targets: list[Rule | Model] = []
        self.index = Index([])
        self._switch: tuple[int, Pack] | None = None
        self.quarantined: dict[str, Quarantine] = {}
        self.reader: Reader | None = None     # reads reports, when the pack says how
        self.reports_unread = 0               # reports the reader failed on (left as they came)
        self.load(pack)

    # -- rules -----------------------------------------------------------------------------------
    def load(self, pack: Pack) -> None:
        """Switch to `pack`; rules and models whose id and definition did not change keep
        their state, and the report reader what it learnt."""
        reading = pack.reading
        if not (reading.categories or reading.settings_file):
            self.reader = None
        elif self.reader is None:
            self.reader = Reader(reading)
        elif reading != self.reader.reading:
            self.reader = self.reader.adopt(reading)
        previous_models = self.models
        self.models = {}
        self.quarantined = {rule_id: held for rule_id, held in self.quarantined.items()
                            if any(spec.id == rule_id and spec.fingerprint == held.fingerprint
                                   for spec in (*pack.specs, *pack.models))}
        for spec in pack.models:
            if spec.id in self.quarantined:
                continue
            old = previous_models.get(spec.id)
            keep = old is not None and old.spec.fingerprint == spec.fingerprint
            self.models[spec.id] = old if keep else Model(
                spec, indexed_paths(spec, scan=self.scan))
        previous = self.rules
        self.rules = {}
        for position, spec in enumerate(pack.specs):
            if spec.id in self.quarantined:
                continue
            old = previous.get(spec.id)
            if old is not None and old.spec.fingerprint == spec.fingerprint:
                rule = old
            else:
                rule = build(spec, self._records, indexed_paths(spec, scan=self.scan))
            rule.position = position
            self.rules[spec.id] = rule
        self._route_targets()

    def _share(self) -> list[Rule]:
        """The rules that evaluate: one per logic and state. Rules of one logic (a rule copied
        with other ids, texts or labels) whose state is the same, or empty, are evaluated once,
        by the first of them, for all (`Rule.twins`); a rule whose state differs (one defined
        anew by a push, beside copies that kept theirs) evaluates alone."""
        for rule in self.rules.values():
            rule.twins = []
        if self.scan:
            return list(self.rules.values())
        leaders: dict[tuple[str, int | None], Rule] = {}
        for rule in self.rules.values():
            lineage = id(rule.states) if rule.states or rule.timers else None
            leader = leaders.setdefault((rule.spec.logic, lineage), rule)
            if leader is not rule:
                rule.share(leader)
        return list(leaders.values())

    def _route_targets(self) -> None:
        self._leaders = self._share()
        # Models first: the rules of the same batch read the scores they put on the events.
        self._targets = [*self.models.values(), *self._leaders]
        self._timed: dict[str, Rule] = {rule.id: rule for rule in self._leaders}
        self.index = Index(entries_of((target.spec for target in self._targets),
                                       scan=self.scan))

    def schedule(self, pack: Pack, at_ms: int) -> None:
        """Switch to `pack` at event time `at_ms`: events before it are evaluated by the current
        rules, events from it on by the new ones, however the stream is batched or partitioned.
        A time the watermark has already passed switches at the next release."""
        self._switch = (at_ms, pack)

    # -- events ----------------------------------------------------------------------------------
    def process(self, events: Iterable[tuple[int, Event]], source: str = "") -> Output:
        """Accept a batch of (event time ms, event) from one input; evaluate what the watermark
        now allows."""
        late = []
        pending, stragglers = self._pending, self._stragglers
        arrivals, max_time, watermark = self._arrivals, self.max_time, self.watermark
        lateness = self.lateness_ms
        sources = self._sources
        source_max = sources.get(source, _NO_WATERMARK)
        floor = min((sources[other] for other in self._holding if other != source),
                    default=_NO_LIMIT)
        if source_max != _NO_WATERMARK:   # another input may have stopped holding it back
            watermark = max(watermark, min(source_max, floor) - lateness)
        last = pending[-1] if pending else None
        for t, event in events:
            if t < watermark:
                late.append((t, event))
                continue
            arrivals += 1
            item = (t, event.id, arrivals, event)
            if last is None or item > last:
                if last is not None and t == last[0] and item[1] == last[1]:
                    self.events_duplicate += 1     # the same event again, right after itself
                else:
                    pending.append(item)
                    last = item
            else:
                heappush(stragglers, item)   # the few that arrive out of order wait apart
            if t > source_max:
                source_max = t
                if t > max_time:
                    max_time = t
                mark = (t if t < floor else floor) - lateness
                if mark > watermark:
                    watermark = mark
        sources[source] = source_max
        self._arrivals, self.max_time, self.watermark = arrivals, max_time, watermark
        self.events_in += len(late)
        self.events_late += len(late)
        return Output(self._release(watermark), late)

    @property
    def held(self) -> bool:
        """Whether some input holds the watermark back."""
        return bool(self._holding)

    def hold(self, source: str, holding: bool) -> None:
        """Whether an input holds the watermark back. With several inputs (a live partition
        reads readings and reports from two topics, each at its own pace) the watermark is the
        lowest event time among the inputs that still have data on the way, so a fast input
        cannot make a slow one's events late; an input that is caught up holds nothing."""
        if holding:
            self._holding.add(source)
            self._sources.setdefault(source, _NO_WATERMARK)
        else:
            self._holding.discard(source)

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
        """Evaluate the buffered events before the watermark, then the timers before it."""
        if self._switch is not None and self._switch[0] < watermark:
            at, pack = self._switch
            self._switch = None
            self._evaluate_until(at)
            self.load(pack)
        self._evaluate_until(watermark)
        records = self._records
        if not records:
            return []
        records.sort(key=_record_order)   # stable: a rule's records keep their own order
        ordered = [record for _, _, record in records]
        records.clear()
        return ordered

    def _evaluate_until(self, watermark: int) -> None:
        pending, stragglers = self._pending, self._stragglers
        cut = bisect_left(pending, (watermark,))
        released = pending[:cut]
        del pending[:cut]
        while stragglers and stragglers[0][0] < watermark:
            self._insert_straggler(released, heappop(stragglers))
        if released:
            self.events_in += len(released)
            evaluations = self.evaluations
            for target, items in self._dispatch(released):
                try:
                    target.process(items)
                except Exception as error:   # a bug of one rule must not stop the others
                    self._quarantine(target, error, items[0][0])
                else:
                    if isinstance(target, Rule):
                        self._timed[target.id] = target
                        for twin in target.twins:
                            evaluations[twin.id] += len(items)
                evaluations[target.spec.id] += len(items)
        # Only rules that took events or already had timers can have timers due: a pack of
        # thousands of rules is not walked at every batch.
        for rule in list(self._timed.values()):
            if not rule.timers:
                self._timed.pop(rule.id, None)
            elif rule.timers[0][0] < watermark:
                try:
                    rule.fire_timers(watermark - 1)
                except Exception as error:
                    self._quarantine(rule, error, rule.timers[0][0] if rule.timers else None)

    def _quarantine(self, target: Rule | Model, error: Exception, at: int | None) -> None:
        """Take a rule or model that failed out of this evaluator, for good: it is not fed
        again, and stays out of packs that define it the same way. What it emitted before the
        failure stands."""
        reason = f"{type(error).__name__}: {error}"[:500]
        failed = [target, *target.twins] if isinstance(target, Rule) else [target]
        for one in failed:
            spec = one.spec
            self.quarantined[spec.id] = Quarantine(spec.id, spec.fingerprint, reason, at)
            if isinstance(one, Model):
                del self.models[spec.id]
            else:
                del self.rules[spec.id]
        self._route_targets()

    def _insert_straggler(self, released: list[Item], item: Item) -> None:
        """Put an out-of-order event in its place, unless an event with its time and id is
        already there. That one arrived first: an event that arrives after its twin sorts after
        it, and stragglers come off their heap in (time, id, arrival) order."""
        at = bisect_left(released, item)
        if at and released[at - 1][0] == item[0] and released[at - 1][1] == item[1]:
            self.events_duplicate += 1
        else:
            released.insert(at, item)

    def _dispatch(self, released: list[Item]) -> list[tuple[Rule | Model, list[Item]]]:
        """Split a time-ordered batch into each rule's events, in order, through the index of
        the rules' `match` (engine.dispatch). Reports are read first: rules may match the
        category the reader gave them."""
        reader = self.reader
        if reader is not None:
            for t, _, _, event in released:
                if event.kind == "report":
                    self._read(reader, t, event)
        targets = self._targets
        return [(targets[position], items) for position, items in self.index.split(released)]

    def _read(self, reader: Reader, t: int, event: Event) -> None:
        try:
            reader.read(t, event)
        except Exception:     # a bug in reading must not stop the rules: they get it as it came
            self.reports_unread += 1

    # -- feedback ------------------------------------------------------------------------------
    def mark_false_positive(self, rule_id: str, key: str) -> bool:
        """An operator marked the rule's alert for this key a false positive: every model the
        rule reads learns the key's latest event as normal. False if there was nothing to learn
        (no such rule or key, or a rule that reads no model)."""
        rule = self.rules.get(rule_id)
        state = rule.states.get(key) if rule is not None else None
        if state is None or state.last is None:
            return False
        learned = False
        for model_id in rule.spec.models:
            model = self.models.get(model_id)
            model_key = key_text(model.key_of(state.last)) if model is not None else None
            if model_key is None:
                continue
            try:
                learned |= model.learn_as_normal(model_key, state.last_t, state.last)
            except Exception as error:
                self._quarantine(model, error, state.last_t)
        return learned

    def learn_category(self, text: str, category: str) -> bool:
        """An operator's category for a report's text, for the classifier to learn; False when
        the pack does not classify reports."""
        if self.reader is None:
            return False
        self.reader.learn(text, category)
        return True

    # -- state -----------------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """Every piece of state, restorable into an evaluator of the same pack."""
        rules = {rule_id: (rule.spec.fingerprint, rule.states, rule.timers)
                 for rule_id, rule in self.rules.items()}
        models = {model_id: (model.spec.fingerprint, model.states, model.array)
                  for model_id, model in self.models.items()}
        return pickle.dumps((rules, models, self._pending, self._stragglers, self._arrivals,
                             self.max_time, self.watermark, self._sources, self.events_in,
                             self.events_late, tuple(self.quarantined.values()),
                             self.reader.snapshot() if self.reader is not None else None),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, snapshot: bytes) -> None:
        state = pickle.loads(snapshot)
        (rules, models, self._pending, self._stragglers, self._arrivals, self.max_time,
         self.watermark, self._sources, self.events_in, self.events_late) = state[:10]
        held = state[10] if len(state) > 10 else ()   # none in a snapshot of an older release
        reader = state[11] if len(state) > 11 else None
        if reader is not None and self.reader is not None:
            self.reader.restore(reader)
        for quarantine in held:
            target = self.rules.get(quarantine.id) or self.models.get(quarantine.id)
            if target is not None and target.spec.fingerprint == quarantine.fingerprint:
                self.quarantined[quarantine.id] = quarantine
                self.rules.pop(quarantine.id, None)
                self.models.pop(quarantine.id, None)
        for rule_id, (fingerprint, states, timers) in rules.items():
            rule = self.rules.get(rule_id)
            if rule is not None and rule.spec.fingerprint == fingerprint:
                rule.adopt(states, timers)
        for model_id, (fingerprint, states, array) in models.items():
            model = self.models.get(model_id)
            if model is not None and model.spec.fingerprint == fingerprint:
                model.states, model.array = states, array
        self._route_targets()   # rules that shared their state before share it again

    def stats(self) -> dict[str, int]:
        return {"events": self.events_in, "late": self.events_late,
                "duplicates": self.events_duplicate,
                "model_keys": sum(model.keys for model in self.models.values()),
                "pending": len(self._pending) + len(self._stragglers),
                "timers": sum(len(rule.timers) for rule in self._leaders),
                "quarantined": len(self.quarantined),
                "reports_unread": self.reports_unread,
                "keys": sum(len(rule.states) for rule in self._leaders)}


def _record_order(record: tuple[int, int, dict]) -> tuple[int, int]:
    return record[0], record[1]
