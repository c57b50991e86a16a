"""The Faust worker: input records to the partition runners, alert records and dead letters out.

Faust moves records; every record is a batch of events (see `streams.records`), so Faust's cost
per message is paid per batch. State is not kept in Faust tables (a table write per event costs
far more than the evaluation): each partition's evaluator is checkpointed whole
(`streams.checkpointing`), with the input offsets and journal entries it reflects. When a
partition is assigned, the worker restores its checkpoint and reads the input from the
checkpoint's offsets, so after a crash the records since the last checkpoint are evaluated again
and their alerts sent again with the same ids, which the ledger records once. The rules and
chain-event topics are read by `streams.watchers`; the Faust app is `streams.faust_app`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import mode
import orjson
from faust.types import TP

from engine.evaluator import Quarantine
from engine.events import format_timestamp
from engine.messages import Held, PackStatus, Refusal
from engine.pack import Pack
from engine.rulefile import RuleFileError
from streams.checkpoint import CheckpointStore
from streams.checkpointing import Checkpointing
from streams.control import read_rules_record
from streams.faust_app import App
from streams.journal import HEADER, Journal, parse_header
from streams.metrics import PipelineMetrics, faust_monitor
from streams.partition import Outcome, PartitionRunner
from streams.settings import Settings
from streams.watchers import FeedbackWatcher, RulesWatcher

__all__ = ["Worker", "EXIT_SOFTWARE"]

log = logging.getLogger("ewe.worker")

EXIT_SOFTWARE = 70   # sysexits.h: an internal error


class Worker(Checkpointing):
    """One worker process's engine room. `services()` are started with the Faust app."""

    def __init__(self, settings: Settings, pack: Pack, *, bootstrap: str, cluster_id: str,
                 metrics: PipelineMetrics, rules_key: bytes | None,
                 journal: Journal | None = None,
                 alerts_recorded: Callable[[dict[int, int]], Awaitable[bool]] | None = None,
                 clock: Callable[[], int],
                 on_alert: Callable[[dict], None] | None = None) -> None:
        self.settings, self.pack, self.bootstrap = settings, pack, bootstrap
        self.on_alert = on_alert
        self.cluster_id, self.metrics, self.clock = cluster_id, metrics, clock
        self.store = CheckpointStore(f"{settings.data_dir}/checkpoints")
        self.runners: dict[int, PartitionRunner] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.assigned: set[int] = set()
        self.switch: tuple[int, Pack, str] | None = None   # the latest pushed pack
        self.quarantines: dict[tuple[int, str], Quarantine] = {}
        self.refusals: deque[Refusal] = deque(maxlen=20)   # the pushes refused last
        # The ingest's journal, on the embedded broker: its rows go once checkpoints reflect them.
        self.journal = journal
        # On the embedded broker, a checkpoint waits for the center to have recorded every
        # alert of the state it saves: the topic would not outlive a crash.
        self.alerts_recorded = alerts_recorded
        self.alert_offsets: dict[int, int] = {}    # alerts partition -> last offset sent
        # The record of the pack pushed last, kept beside the checkpoints: a restart goes on
        # with it (the checkpoints hold its rules' state), whatever `--rules` says.
        self.pushed = Path(settings.data_dir) / "rules-pushed.json"
        self.pushed_record: bytes | None = None
        self.rules_key = rules_key
        if rules_key is None:
            log.warning("no rules key (EWE_RULES_KEY): packs pushed to this worker are refused")
        if self.pushed.exists():
            record = self.pushed.read_bytes()
            try:
                at, pack, version = read_rules_record(record, rules_key)
            except (RuleFileError, ValueError) as error:
                log.error("ignored %s (%s): starting with --rules", self.pushed, error)
            else:
                self.pack, self.switch, self.pushed_record = pack, (at, pack, version), record
                log.info("rule pack %s, pushed before the restart, is in force", version)
        rebalance_timeout = settings.ms("rebalance_timeout") / 1000
        self.app = App(settings.group, broker=f"kafka://{bootstrap}", web_enabled=False,
                        datadir=str(Path(settings.data_dir) / "faust"),   # not the cwd
                        autodiscover=False, topic_partitions=settings.partitions,
                        consumer_auto_offset_reset="earliest", stream_wait_empty=False,
                        broker_commit_every=10_000, producer_linger_ms=2,
                        producer_max_request_size=settings.max_record_bytes + 65_536,
                        producer_compression_type="zstd",
                        consumer_max_fetch_size=8 * 1024 * 1024,
                        broker_rebalance_timeout=rebalance_timeout,
                        broker_session_timeout=settings.ms("session_timeout") / 1000,
                        broker_heartbeat_interval=1.0)
        self.app.monitor = faust_monitor(metrics.registry)
        self.app.seek_to_checkpoints = self.seek_to_checkpoints
        metrics.rules_active.set(len(self.pack))
        self._wire()

    # -- wiring ----------------------------------------------------------------------------------
    def _wire(self) -> None:
        app, settings = self.app, self.settings
        raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw",
                   value_serializer="raw")
        # ewe's own producers write both kinds to `events`, one total order per partition;
        # `readings` and `reports` take what other producers write by kind.
        self.input_topics = (settings.topic("events"), settings.topic("readings"),
                             settings.topic("reports"))
        inputs = app.topic(*self.input_topics, **raw)
        self.alerts = app.topic(settings.topic("alerts"), **raw)
        self.dead_letters = app.topic(settings.topic("dead-letter"), **raw)

        @app.agent(inputs, name="ewe.evaluate")
        async def evaluate(stream):
            async for event in stream.events():
                try:
                    await self.handle(event.message)
                except Exception as error:
                    # Not a rule's failure (those are quarantined): the worker's own. Going on
                    # would evaluate nothing while looking alive, and a last checkpoint would
                    # save a half-evaluated record as done: exit at once, saying why, for the
                    # supervisor to restart it from the last good checkpoint.
                    message = event.message
                    log.critical("the worker stops: evaluating %s[%d]@%d failed",
                                 message.topic, message.partition, message.offset,
                                 exc_info=error)
                    logging.shutdown()
                    os._exit(EXIT_SOFTWARE)

        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_before_shutdown.connect(self._on_shutdown)
        app.timer(1.0)(self._tick)
        app.timer(self.settings.ms("checkpoint_every") / 1000)(self.checkpoint_all)

    def services(self) -> list[mode.Service]:
        return [RulesWatcher(self), FeedbackWatcher(self)]

    # -- records ---------------------------------------------------------------------------------
    async def handle(self, message) -> None:
        partition = message.partition
        runner = self.runners.get(partition) or self._open(partition)
        async with self.locks[partition]:
            outcome = runner.handle(message.topic, message.offset, message.value,
                                    parse_header(_header(message.headers, HEADER)))
            await self._emit(outcome.alerts, outcome.dead)
        self._count(message, outcome)
        self._note_quarantines(partition, runner)

    def _note_quarantines(self, partition: int, runner: PartitionRunner) -> None:
        """Log and count each rule or model the partition's evaluator took out, once."""
        for rule_id, held in runner.evaluator.quarantined.items():
            if (partition, rule_id) in self.quarantines:
                continue
            self.quarantines[partition, rule_id] = held
            self.metrics.rule_errors.labels(rule_id).inc()
            log.error("rule %s failed at event time %s and is quarantined in partition %d "
                      "(the other rules go on): %s", rule_id,
                      format_timestamp(held.at) if held.at is not None else "?", partition,
                      held.reason)

    async def _emit(self, alerts: list[dict], dead: list) -> None:
        if alerts:
            for alert in alerts:
                value = orjson.dumps(alert)
                try:
                    sent = await self.alerts.send(key=alert["id"].encode(), value=value)
                except Exception as error:    # refused at once (too large): the others go on
                    await self._not_sent(alert, len(value), error)
                    continue
                sent.add_done_callback(self._sent)
                if self.on_alert is not None:
                    self.on_alert(alert)
            self.metrics.count_alerts(alerts, self.clock())
        for letter in dead:
            await self.dead_letters.send(value=letter.value)
            self.metrics.dead_letters.labels(letter.reason).inc()
            if letter.reason == "late":
                self.metrics.late.inc()

    def _sent(self, future: asyncio.Future) -> None:
        """An alert record reached the broker (or could not: then the worker stops, for a
        restart from the last checkpoint to send it again, rather than checkpoint past it)."""
        error = None if future.cancelled() else future.exception()
        if future.cancelled() or error is not None:
            log.critical("the worker stops: an alert record was not sent (%r)", error)
            logging.shutdown()
            os._exit(EXIT_SOFTWARE)
        metadata = future.result()
        if metadata.offset > self.alert_offsets.get(metadata.partition, -1):
            self.alert_offsets[metadata.partition] = metadata.offset

    async def _not_sent(self, alert: dict, size: int, error: Exception) -> None:
        reason = f"alert record of {size:,} bytes not sent: {type(error).__name__}: {error}"
        log.error("%s (alert %s of %s)", reason, alert["id"], alert["rule"])
        self.metrics.dead_letters.labels("alert").inc()
        await self.dead_letters.send(value=orjson.dumps({
            "reason": reason, "alert": {name: alert.get(name) for name in (
                "id", "rule", "key", "severity", "change", "at")}}))

    def _count(self, message, outcome: Outcome) -> None:
        metrics = self.metrics
        metrics.records.labels(message.topic).inc()
        source = _header(message.headers, "ewe-source") or "kafka"
        for kind, count in outcome.kinds.items():
            if count:
                metrics.events.labels(kind, source).inc(count)

    # -- partitions ------------------------------------------------------------------------------
    def _open(self, partition: int) -> PartitionRunner:
        """The runner of a partition, from its checkpoint when there is one."""
        runner = PartitionRunner(partition, self.pack, lateness_ms=self.settings.lateness_ms,
                                 max_future_ms=self.settings.ms("max_future"), clock=self.clock,
                                 topics=self.input_topics,
                                 highwater=lambda topic: self._highwater(topic, partition),
                                 input_idle_ms=self.settings.ms("input_idle"))
        checkpoint = self.store.load(partition)
        if checkpoint is not None:
            try:
                runner.restore(checkpoint, self.cluster_id)
            except Exception as error:
                # Going on without it would forget open episodes the ledger still shows firing.
                log.critical("the worker stops: %s cannot be restored (%r); it was damaged or "
                             "written by a release that stores state otherwise. Start the "
                             "release that wrote it, or move the file aside to start partition "
                             "%d without state", self.store.path(partition), error, partition)
                logging.shutdown()
                os._exit(EXIT_SOFTWARE)
        if self.switch is not None:
            at, pack, _ = self.switch
            runner.evaluator.schedule(pack, at)
        self.runners[partition] = runner
        self.locks[partition] = asyncio.Lock()
        return runner

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            return self.app.consumer.highwater(TP(topic, partition))
        except Exception:   # not assigned (any more) or the consumer is not started
            return None

    async def _on_assigned(self, sender, assigned, **kwargs) -> None:
        partitions = {tp.partition for tp in assigned if tp.topic in self.input_topics}
        self.assigned = partitions
        for partition in partitions:
            if partition not in self.runners:
                self._open(partition)
        log.info("assigned partitions %s", sorted(partitions))

    async def seek_to_checkpoints(self) -> None:
        """Read each assigned partition from the offsets its runner's state reflects."""
        for partition in sorted(self.assigned):
            runner = self.runners.get(partition) or self._open(partition)
            for topic in self.input_topics:
                await self.app.consumer.seek(TP(topic, partition), runner.offsets.get(topic, 0))

    async def _on_revoked(self, sender, revoked, **kwargs) -> None:
        for partition in {tp.partition for tp in revoked if tp.topic in self.input_topics}:
            if partition in self.runners:
                await self.checkpoint(partition)
                del self.runners[partition]

    async def _on_shutdown(self, sender, **kwargs) -> None:
        await self.checkpoint_all()

    async def _tick(self) -> None:
        idle_after = self.settings.ms("idle_after")
        now = self.clock()
        metrics = self.metrics
        for partition, runner in list(self.runners.items()):
            async with self.locks[partition]:
                alerts = runner.tick(idle_after)
                await self._emit(alerts, [])
            self._note_quarantines(partition, runner)
            label = str(partition)
            evaluator = runner.evaluator
            if evaluator.max_time > 0:
                metrics.watermark_delay.labels(label).set((now - evaluator.watermark) / 1000)
            stats = evaluator.stats()
            metrics.active_keys.labels(label).set(stats["keys"])
            metrics.pending.labels(label).set(stats["pending"])
            metrics.reports_unread.labels(label).set(stats["reports_unread"])
            for rule, count in evaluator.evaluations.items():
                metrics.evaluations.labels(rule).inc(count)
            evaluator.evaluations.clear()
            metrics.duplicates.inc(evaluator.events_duplicate - runner.duplicates_counted)
            runner.duplicates_counted = evaluator.events_duplicate
            lag = 0
            for topic in self.input_topics:
                highwater = self._highwater(topic, partition)
                if highwater is not None:
                    lag += max(0, highwater - runner.offsets.get(topic, 0))
            metrics.lag.labels(label).set(lag)

    # -- rules -----------------------------------------------------------------------------------
    def apply_pack(self, pack: Pack, at: int, version: str, record: bytes) -> None:
        """Every runner switches to `pack` at event time `at`: the same point of every
        partition's stream, on every worker. The record is kept for restarts."""
        self.switch = (at, pack, version)
        self.pack = pack
        for runner in self.runners.values():
            runner.evaluator.schedule(pack, at)
        self.metrics.rules_active.set(len(pack))
        self.pushed.parent.mkdir(parents=True, exist_ok=True)
        # Workers of several hosts may share the directory, and record the same pack at once.
        partial = self.pushed.with_suffix(f".{socket.gethostname()}.{os.getpid()}.partial")
        partial.write_bytes(record)
        partial.replace(self.pushed)
        self.pushed_record = record
        log.info("rule pack %s (%d rules) applies from event time %d", version, len(pack), at)

    def refused(self, reason: str) -> None:
        """A record on the rules topic that is not applied: counted, and kept for the board."""
        self.metrics.rule_packs.labels("refused").inc()
        self.refusals.append(Refusal(at=self.clock(), reason=reason))

    def pack_status(self) -> PackStatus:
        """The pack in force, the rules and models quarantined, the pushes refused."""
        rules, models = self.pack.outline()
        return PackStatus(version=self.switch[2] if self.switch else "local", rules=rules,
                          models=models, quarantined=self._held(), refused=tuple(self.refusals))

    def _held(self) -> tuple[Held, ...]:
        """The rules and models quarantined now, each with the partitions holding it out."""
        partitions: dict[str, list[int]] = {}
        first: dict[str, Quarantine] = {}
        for (partition, rule_id), quarantine in sorted(self.quarantines.items()):
            runner = self.runners.get(partition)
            if runner is not None and rule_id in runner.evaluator.quarantined:
                first.setdefault(rule_id, quarantine)
                partitions.setdefault(rule_id, []).append(partition)
        return tuple(Held(id=rule_id, reason=first[rule_id].reason, at=first[rule_id].at,
                          partitions=tuple(numbers)) for rule_id, numbers in partitions.items())

    async def mark_false_positive(self, rule_id: str, key: str) -> bool:
        """Hand a false positive to the models of the partition holding the key."""
        learned = False
        for partition, runner in list(self.runners.items()):
            async with self.locks[partition]:
                learned |= runner.evaluator.mark_false_positive(rule_id, key)
        return learned

    async def learn_category(self, category: str, texts: list[str]) -> bool:
        """Teach every partition's classifier an operator's category for these report texts."""
        learned = False
        for partition, runner in list(self.runners.items()):
            async with self.locks[partition]:
                for text in texts:
                    learned |= runner.evaluator.learn_category(text, category)
        return learned

    def health(self) -> dict:
        return {"status": "ok" if self.assigned else "starting",
                "partitions": sorted(self.assigned), "rules": len(self.pack),
                "rules_version": self.switch[2] if self.switch else "local",
                "quarantined": {held.id: {"reason": held.reason,
                                          "partitions": list(held.partitions)}
                                for held in self._held()}}


def _header(headers, name: str) -> str | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == name:
            return value.decode() if isinstance(value, bytes) else value
    return None


