"""The center as a running service: Kafka in and out, the scheduler, the webhook deliverer.

- consumes `ewe.alerts` in the `ewe-center` group and records each batch in the ledger before
  committing its offsets (a crash re-delivers, the ledger skips what it has);
- publishes the ledger's chain events on `ewe.alert-events` (an outbox: a row is marked
  published only after the broker acknowledged it);
- once a second, runs the ledger's scheduler (SLA escalations, reminders, released notices) and
  delivers due webhooks; dead notices go to `ewe.dead-letter`.

This is the only part of the center that reads the wall clock; everything below it takes `clock`.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from center.auth import create_token, has_tokens
from center.context import Center
from center.ledger import IngestResult, Ledger
from center.store import Store
from center.webhooks import Deliverer, Webhook
from engine.duty import DutyList
from engine.messages import AlertRecord, decode_alert_record, encode

__all__ = ["CenterService", "first_tokens"]

log = logging.getLogger("ewe.center")

_TICK_SECONDS = 1.0
_PUBLISH_SECONDS = 0.2
_RETRY_SECONDS = 1.0



def _without_nul(value: Any) -> Any:
    """The value with NUL characters replaced (U+FFFD): PostgreSQL cannot store them in text,
    and an alert must not be lost over a stray byte in a device's or a place's name."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def first_tokens(store: Store, clock: Callable[[], int], *, ingest: bool) -> dict[str, str]:
    """On a ledger without tokens, the first admin token (and one for the ingest); none when
    tokens exist."""
    if has_tokens(store):
        return {}
    roles = ("admin", "ingest") if ingest else ("admin",)
    return {role: create_token(store, role=role, name=role, now=clock()) for role in roles}


class CenterService:
    def __init__(self, store: Store, duty: DutyList, *, bootstrap: str, topic: Callable[[str], str],
                 webhooks: list[Webhook], external_url: str,
                 clock: Callable[[], int],
                 rebalance_timeout_ms: int = 4_000, session_timeout_ms: int = 6_000) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.topic = topic
        self.clock = clock
        self.center = Center(Ledger(
            store, duty, clock=clock,
            targets=[hook.name for hook in webhooks if hook.format != "reply"],
            reply_targets=[hook.name for hook in webhooks if hook.format == "reply"]))
        self.deliverer = Deliverer(store, {hook.name: hook for hook in webhooks}, clock=clock,
                                   metrics=self.center.metrics, external_url=external_url,
                                   on_dead=self._dead_letter)
        self._group_timeouts = {"rebalance_timeout_ms": rebalance_timeout_ms,
                                "session_timeout_ms": session_timeout_ms}
        self._tasks: list[asyncio.Task] = []
        self._publishing = asyncio.Lock()
        self.committed: dict[int, int] = {}   # alerts partition -> next offset not recorded
        self.ledger_error: str | None = None  # why the ledger failed last, until it works
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None

    @property
    def ledger(self) -> Ledger:
        return self.center.ledger

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5,
                                         compression_type="zstd")
        await self.producer.start()
        self._tasks = [asyncio.create_task(loop(), name=f"center-{loop.__name__}")
                       for loop in (self._consume, self._publish, self._schedule)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._publish_once()      # what people did last reaches the workers
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        await self.deliverer.close()

    async def _consume(self) -> None:
        # Started here, not in `start`: joining the group takes seconds, and the API should
        # answer meanwhile.
        self.consumer = AIOKafkaConsumer(
            self.topic("alerts"), bootstrap_servers=self.bootstrap, group_id="ewe-center",
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
            **self._group_timeouts)
        await self.consumer.start()
        while True:
            batches = await self.consumer.getmany(timeout_ms=500, max_records=2000)
            if not batches:
                continue
            decoded = []
            for messages in batches.values():
                for message in messages:
                    record = await self._decode(message)
                    if record is not None:
                        decoded.append((message, record))
            try:
                if decoded:
                    await self._record(decoded)
                await self.consumer.commit()
                for partition, messages in batches.items():
                    if messages:
                        self.committed[partition.partition] = messages[-1].offset + 1
                self.ledger_error = None
            except Exception as error:
                # The database (or the commit) failed: read the batch again from the last
                # commit; what did get recorded is skipped as a duplicate the second time.
                self.ledger_error = f"{type(error).__name__}: {error}"
                log.exception("recording alert changes failed; retrying")
                await asyncio.sleep(_RETRY_SECONDS)
                await self.consumer.seek_to_committed()

    def health(self) -> str | None:
        """Why the center cannot record alerts now (None: it can)."""
        if self.ledger_error is not None:
            return f"center: the ledger cannot record alerts: {self.ledger_error}"
        return None

    async def recorded(self, offsets: dict[int, int], timeout_s: float = 10.0) -> bool:
        """Whether the ledger has recorded (and committed past) every alert up to `offsets`
        (alerts partition -> offset), waiting up to `timeout_s` for it."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(self.committed.get(partition, 0) <= offset
                  for partition, offset in offsets.items()):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _record(self, decoded: list[tuple[Any, dict[str, Any]]]) -> None:
        """Record a batch. If the ledger refuses it while the database answers, record it
        record by record, so that a record it cannot take is dead-lettered instead of stopping
        all that follow; if the database does not answer, the error propagates and the batch
        is read again."""
        try:
            self._count(await asyncio.to_thread(self.ledger.ingest,
                                                [record for _, record in decoded]))
            return
        except Exception as error:
            if not await self._refused(error):
                raise
        for message, record in decoded:
            try:
                self._count(await asyncio.to_thread(self.ledger.ingest, [record]))
            except Exception as error:
                if not await self._refused(error):
                    raise
                await self._refuse(message, f"the ledger refused it: {error}")

    async def _refused(self, error: Exception) -> bool:
        """Whether the ledger refused the records (the database answers and the error is not
        an outage): a pooled connection dropped by a restart fails while a fresh one answers,
        and that is no refusal."""
        return not self.store.outage(error) and await asyncio.to_thread(self._database_answers)

    def _database_answers(self) -> bool:
        try:
            with self.store.transaction() as tx:
                tx.execute("SELECT 1 AS one").fetchone()
        except Exception:
            return False
        return True

    def _count(self, result: IngestResult) -> None:
        changes = self.center.metrics.alert_changes
        changes.labels("new").inc(result.new)
        changes.labels("updated").inc(result.updated)
        changes.labels("duplicate").inc(result.duplicates)

    async def _decode(self, message: Any) -> AlertRecord | None:
        """The alert record in a message, or None after dead-lettering it with the reason."""
        try:
            record = decode_alert_record(message.value)
        except ValueError as error:
            await self._refuse(message, str(error))
            return None
        return _without_nul(record) if b"\\u0000" in message.value else record

    async def _refuse(self, message: Any, reason: str) -> None:
        self.center.metrics.alert_changes.labels("invalid").inc()
        log.error("dead-lettered an alert record at %s[%d]@%d: %s", message.topic,
                  message.partition, message.offset, reason)
        await self._dead_letter({
            "reason": f"alert record: {reason}", "topic": message.topic,
            "partition": message.partition, "offset": message.offset,
            "original": message.value.decode("utf-8", "replace")})

    async def _publish(self) -> None:
        while True:
            try:
                # Shielded: a stop must not cut a round between sending and marking what it
                # sent, or the last round would send it again.
                published = await asyncio.shield(self._publish_once())
            except Exception:
                log.exception("publishing chain events failed; retrying")
                published = 0
            if not published:
                await asyncio.sleep(_PUBLISH_SECONDS)

    async def _publish_once(self) -> int:
        async with self._publishing:
            return await self._publish_round()

    async def _publish_round(self) -> int:
        events = await asyncio.to_thread(self.ledger.unpublished)
        if not events or self.producer is None:
            return 0
        topic = self.topic("alert-events")
        sent = [await self.producer.send(topic, key=event["alert_id"].encode(),
                                         value=encode(event)) for event in events]
        await asyncio.gather(*sent)
        await asyncio.to_thread(self.ledger.mark_published, [event["seq"] for event in events])
        self.center.metrics.published.inc(len(events))
        return len(events)

    async def _schedule(self) -> None:
        metrics = self.center.metrics
        while True:
            try:
                counts = await asyncio.to_thread(self.ledger.tick)
                for severity, step in counts["escalated"]:
                    metrics.escalations.labels(severity, step).inc()
                metrics.reminders.inc(counts["reminders"])
                await self.deliverer.deliver_due()
                await self.deliverer.resend_firing(self.ledger.firing_notices)
            except Exception:  # a database hiccup must not end the scheduler
                log.exception("center scheduler round failed; retrying")
            await asyncio.sleep(_TICK_SECONDS)

    async def _dead_letter(self, record: dict[str, Any]) -> None:
        if self.producer is not None:
            await self.producer.send_and_wait(self.topic("dead-letter"), orjson.dumps(record))
