"""Topics every worker reads whole, outside its consumer group: the rule packs pushed to it, and
the center's chain events (verdicts for rule precision, false positives for the models)."""
from __future__ import annotations

import logging
from typing import Protocol

import mode
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from engine.feedback import RuleVerdicts, correction_of, verdict_of
from engine.messages import decode_chain_event
from engine.pack import Pack
from engine.rulefile import RuleFileError
from streams.control import read_rules_record
from streams.metrics import PipelineMetrics
from streams.settings import Settings

__all__ = ["TopicReader", "RulesWatcher", "FeedbackWatcher", "Watched"]

log = logging.getLogger("ewe.worker")


class Watched(Protocol):
    """What the watchers need of the worker they report to (`streams.worker.Worker`)."""

    settings: Settings
    metrics: PipelineMetrics
    bootstrap: str
    rules_key: bytes | None
    pushed_record: bytes | None

    def apply_pack(self, pack: Pack, at: int, version: str, record: bytes) -> None: ...

    def refused(self, reason: str) -> None: ...

    async def mark_false_positive(self, rule_id: str, key: str) -> bool: ...

    async def learn_category(self, category: str, texts: list[str]) -> bool: ...


class TopicReader(mode.Service):
    """Reads a whole topic from its beginning, outside the consumer group (every worker reads
    all of it), and hands each record to `receive`; `live` is false for the records that were
    already there when the worker started."""

    def __init__(self, worker: Watched, topic: str, partitions: int, **kwargs) -> None:
        self.worker = worker
        self.topic, self.partitions = topic, partitions
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.worker.bootstrap,
                                         enable_auto_commit=False, fetch_max_wait_ms=100)
        await self.consumer.start()
        partitions = [TopicPartition(self.topic, number) for number in range(self.partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        self.live_from = await self.consumer.end_offsets(partitions)
        self.behind = {partition for partition, end in self.live_from.items() if end > 0}

    async def on_stop(self) -> None:
        await self.consumer.stop()

    @mode.Service.task
    async def _watch(self) -> None:
        if not self.behind:
            await self.caught_up()
        while not self.should_stop:
            batches = await self.consumer.getmany(timeout_ms=500)
            for partition, messages in batches.items():
                for message in messages:
                    live = message.offset >= self.live_from.get(partition, 0)
                    await self.receive(message.value, live)
                    if message.offset == self.live_from.get(partition, 0) - 1:
                        self.behind.discard(partition)
                        if not self.behind:
                            await self.caught_up()

    async def receive(self, value: bytes, live: bool) -> None:
        raise NotImplementedError

    async def caught_up(self) -> None:
        """Every record that was there at the start has been received."""


class RulesWatcher(TopicReader):
    """Applies each valid rule pack pushed on the rules topic; an invalid one is logged,
    counted and ignored. Of the packs already on the topic at the start only the last valid
    one is applied, once all are read, and not at all if it is the one kept from before."""

    def __init__(self, worker: Watched, **kwargs) -> None:
        super().__init__(worker, worker.settings.topic("rules"), 1, **kwargs)
        self.last_before_start: tuple[bytes, int, Pack, str] | None = None

    async def receive(self, value: bytes, live: bool) -> None:
        metrics = self.worker.metrics
        try:
            at, pack, version = read_rules_record(value, self.worker.rules_key)
        except RuleFileError as error:
            self.worker.refused(f"a pushed rule pack: {error}")
            log.error("refused a pushed rule pack, the current one keeps running:\n%s", error)
            return
        except ValueError as error:
            self.worker.refused(f"a malformed rules record: {error}")
            log.error("refused a malformed rules record (%s), the current pack keeps running",
                      error)
            return
        if live:
            metrics.rule_packs.labels("applied").inc()
            self.worker.apply_pack(pack, at, version, value)
        else:
            self.last_before_start = (value, at, pack, version)

    async def caught_up(self) -> None:
        if self.last_before_start is None:
            return
        value, at, pack, version = self.last_before_start
        if value != self.worker.pushed_record:
            self.worker.metrics.rule_packs.labels("applied").inc()
            self.worker.apply_pack(pack, at, version, value)


class FeedbackWatcher(TopicReader):
    """Reads the center's chain events: verdicts update each rule's precision; a false positive
    that arrives while the worker runs is handed to the anomaly models of the rule, on whichever
    partition holds its key; a report's corrected category goes to the classifier of every
    partition (a text like it may arrive on any). Feedback from before the start was learned
    already: the checkpoints hold the models that learned it."""

    def __init__(self, worker: Watched, **kwargs) -> None:
        self.verdicts = RuleVerdicts()
        super().__init__(worker, worker.settings.topic("alert-events"),
                         worker.settings.partitions, **kwargs)

    async def receive(self, value: bytes, live: bool) -> None:
        try:
            event = decode_chain_event(value)
            correction = correction_of(event["kind"], event["data"])
            verdict = verdict_of(event["kind"], event["data"])
            if verdict is not None:
                rule, key = event["rule"], event["key"]
                self.verdicts.record(event["alert_id"], rule, verdict)
        except (msgspec.DecodeError, ValueError) as error:
            log.warning("ignored a malformed chain event (%r)", error)
            return
        if live and correction is not None:
            learned = await self.worker.learn_category(*correction)
            self.worker.metrics.category_corrections.labels(
                "learned" if learned else "nothing").inc()
        if verdict is None:
            return
        metrics = self.worker.metrics
        for name, count in self.verdicts.counts(rule).items():
            metrics.rule_verdicts.labels(rule, name).set(count)
        metrics.rule_precision.labels(rule).set(self.verdicts.precision(rule))
        if live and verdict == "false_positive":
            learned = await self.worker.mark_false_positive(rule, key)
            metrics.detector_feedback.labels("learned" if learned else "nothing").inc()
