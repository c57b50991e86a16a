"""One input partition's worth of work: records in, alert records and dead letters out.

The Faust agent hands every record to the runner of its partition number (readings and reports
are co-partitioned by area key, so one runner sees both kinds of its areas). The runner decodes
the batch, evaluates it with its own `Evaluator`, and remembers the next offset of each topic, so
that a checkpoint holds the state and exactly the input it reflects.

The wall clock enters here and nowhere in the engine, in two places: an event stamped further in
the future than `max_future_ms` is refused (it would drag the watermark ahead of every honest
event), and an idle partition's watermark advances with the wall time elapsed since its last
record, so absences fire while nothing arrives.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.evaluator import Evaluator
from engine.events import EventError, decode, format_timestamp
from engine.pack import Pack
from streams.checkpoint import Checkpoint
from streams.records import RecordError, dead_letter, split

__all__ = ["PartitionRunner", "Outcome", "DeadLetter"]


@dataclass
class DeadLetter:
    reason: str      # bounded, for the metric label: record, invalid, future, late
    value: bytes     # the dead-letter record


@dataclass
class Outcome:
    alerts: list[dict] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    events: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    replayed: bool = False     # a journal entry already reflected in the state: skipped


class PartitionRunner:
    def __init__(self, partition: int, pack: Pack, *, lateness_ms: int, max_future_ms: int,
                 clock: Callable[[], int], topics: tuple[str, ...] = (),
                 highwater: Callable[[str], int | None] = lambda topic: None,
                 input_idle_ms: int = 200) -> None:
        self.partition = partition
        self.topics = topics                  # the inputs, each with its own pace
        self.highwater = highwater            # a topic's end offset in this partition, if known
        self.evaluator = Evaluator(pack, lateness_ms=lateness_ms)
        self.offsets: dict[str, int] = {}     # topic -> next offset to read
        self.journal: dict[str, int] = {}     # "ingest:topic" -> the last journal entry seen
        self.max_future_ms = max_future_ms
        self.clock = clock                    # wall time in epoch ms, injected for tests
        self.last_record_at: int | None = None
        self.input_idle_ms = input_idle_ms
        self.arrivals: dict[str, int] = {}    # topic -> wall time of its latest activity
        self._ends: dict[str, int | None] = {}
        self.duplicates_counted = 0           # of the evaluator's, already in the metrics

    def handle(self, topic: str, offset: int, value: bytes | None,
               journal: tuple[str, int] | None = None) -> Outcome:
        """Evaluate one record. A record below the remembered offset, or one whose journal
        entry (ingest, sequence number) the state already reflects, is a re-delivery and is
        skipped."""
        outcome = Outcome()
        if offset < self.offsets.get(topic, 0):
            return outcome
        self.offsets[topic] = offset + 1
        if journal is not None:
            entry = f"{journal[0]}:{topic}"
            if journal[1] <= self.journal.get(entry, 0):
                outcome.replayed = True
                return outcome
            self.journal[entry] = journal[1]
        now = self.last_record_at = self.arrivals[topic] = self.clock()
        origin = {"topic": topic, "partition": self.partition, "offset": offset}
        try:
            raws = split(value)
        except RecordError as error:
            outcome.dead.append(DeadLetter("record", dead_letter(value or b"", str(error),
                                                                 **origin)))
            return outcome
        batch, accepted = [], []
        horizon = now + self.max_future_ms
        for index, raw in enumerate(raws):
            try:
                t, event = decode(raw)
            except EventError as error:
                outcome.dead.append(DeadLetter("invalid", dead_letter(
                    raw, str(error), **origin, index=index)))
                continue
            if t > horizon:
                outcome.dead.append(DeadLetter("future", dead_letter(
                    raw, f"ts: {format_timestamp(t)} is more than {self.max_future_ms // 1000} s "
                         "ahead of the clock", **origin, index=index)))
                continue
            batch.append((t, event))
            accepted.append(raw)
            outcome.kinds[event.kind] = outcome.kinds.get(event.kind, 0) + 1
        outcome.events = len(batch)
        self._update_holds(topic)
        result = self.evaluator.process(batch, topic)
        outcome.alerts = result.alerts
        if result.late:
            self._dead_letter_late(result.late, batch, accepted, origin, outcome)
        return outcome

    def _dead_letter_late(self, late: list, batch: list, accepted: list, origin: dict,
                          outcome: Outcome) -> None:
        late_ids = {id(event) for _, event in late}
        watermark = format_timestamp(self.evaluator.watermark)
        for (t, event), raw in zip(batch, accepted, strict=True):
            if id(event) in late_ids:
                outcome.kinds[event.kind] -= 1
                outcome.events -= 1
                outcome.dead.append(DeadLetter("late", dead_letter(
                    raw, f"late: event time {format_timestamp(t)} is before the partition's "
                         f"watermark {watermark}", **origin)))

    def _update_holds(self, current: str | None = None) -> None:
        """The other inputs hold the watermark while they may have records on the way: while
        their known end is ahead of what was read (or not known yet), and for `input_idle_ms`
        after they last showed activity (a record, or a move of their known end), because a
        known end is only as fresh as the last fetch and a producer may be writing right now."""
        now = self.clock()
        for topic in self.topics:
            if topic == current:
                continue
            end = self.highwater(topic)
            if end != self._ends.get(topic):
                self._ends[topic] = end
                self.arrivals[topic] = now
            behind = end is None or self.offsets.get(topic, 0) < end
            recent = now - self.arrivals.get(topic, now) < self.input_idle_ms
            self.evaluator.hold(topic, behind or recent)

    def tick(self, idle_after_ms: int) -> list[dict]:
        """Release what inputs that caught up no longer hold back; and advance the watermark
        of a partition that has received nothing for `idle_after_ms` of wall time, by the wall
        time since its last record, unless an input may still have records on the way."""
        if self.last_record_at is None:
            return []
        self._update_holds()
        alerts = []
        for topic in self.topics:
            alerts += self.evaluator.process([], topic).alerts
        if idle_after_ms <= 0:
            return alerts
        idle = self.clock() - self.last_record_at
        evaluator = self.evaluator
        if idle < idle_after_ms or evaluator.max_time < 0 or evaluator.held:
            return alerts
        return alerts + evaluator.advance(evaluator.max_time + idle - evaluator.lateness_ms).alerts

    def checkpoint(self, cluster: str) -> Checkpoint:
        return Checkpoint(self.partition, cluster, dict(self.offsets), self.evaluator.snapshot(),
                          dict(self.journal))

    def restore(self, checkpoint: Checkpoint, cluster: str) -> None:
        """Take up the checkpoint's state and the journal entries it reflects; its offsets
        only if they were read on this cluster."""
        self.evaluator.restore(checkpoint.state)
        self.journal = dict(checkpoint.journal)
        self.offsets = dict(checkpoint.offsets) if checkpoint.cluster == cluster else {}

