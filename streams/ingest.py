"""Ingest: validate events at the edge, keep them in the journal, publish them as Kafka records.

HTTP, MQTT and the demo city end here. Each event is decoded once to learn its kind and area
key; it then travels as its original bytes, except a report with personal data: its `reporter`
and original text go to the center's ledger (`keep_contacts`) and the report travels without
the one and with the other masked. The accepted events of a submission are appended to the
journal (fsynced) before the answer: an acknowledged event survives a crash of the process or
the machine (see `streams.journal`). Journal rows are then published per topic and partition
(of their area key), gathered over `batch_window` into records of at most 10,000 events and
8 MiB, because the workers pay per record, not per event. Rejected events go to the dead-letter
topic with their reason and are also answered to the sender.

Taking events costs something somewhere, and the ingest says so instead of taking them into
nowhere: `IngestBusy` (answered 429) while the journal holds more than `journal_limit` bytes not
yet passed on, `IngestUnavailable` (503) while the broker or the ledger is unreachable.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from engine.events import EventError, decode, format_timestamp, without_personal_data
from engine.privacy import Contact
from streams.journal import Journal, JournalRow
from streams.metrics import PipelineMetrics
from streams.records import (
    MAX_EVENTS_PER_RECORD,
    RecordError,
    area_key,
    dead_letter,
    partition_of,
    records,
    split,
)
from streams.settings import Settings

__all__ = ["Ingest", "Receipt", "IngestUnavailable", "IngestBusy", "MAX_REJECTIONS_LISTED"]

log = logging.getLogger("ewe.ingest")

MAX_REJECTIONS_LISTED = 100
_SEND_TIMEOUT_MS = 10_000
_RECORD_OVERHEAD = 64 * 1024    # headers and batch framing around a record's value


class IngestUnavailable(RuntimeError):
    """The ingest cannot take events now (what it needs is down); nothing was acknowledged."""


class IngestBusy(RuntimeError):
    """The service is behind: the journal holds more than it may; try again shortly."""


@dataclass
class Receipt:
    accepted: int = 0
    rejected: int = 0
    rejections: list[dict] = field(default_factory=list)   # {"index", "reason"}, the first 100

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected,
                "rejections": self.rejections}


@dataclass
class _Queued:
    seq: int
    row: JournalRow
    events: int      # 0 for a row read back from the journal: published as it is


class Ingest:
    def __init__(self, settings: Settings, bootstrap: str, metrics: PipelineMetrics, *,
                 journal: Journal, durable_broker: bool, clock: Callable[[], int],
                 keep_contacts: Callable[[list[Contact]], Awaitable[None]] | None = None) -> None:
        # Both kinds in one topic: readings and reports of an area in one order, as they came,
        # so that a worker's results do not depend on how it happens to fetch two topics.
        self.topic = settings.topic("events")
        self.journal = journal
        # A cluster keeps what it acknowledged: a row may go once it is there. The embedded
        # broker keeps topics in memory: a row stays until a checkpoint reflects it.
        self.durable_broker = durable_broker
        self.journal_limit = settings.journal_limit_bytes
        self.max_record_bytes = settings.max_record_bytes
        self.keep_contacts = keep_contacts
        self.max_future_ms = settings.ms("max_future")
        self.clock = clock
        self.dead_letter_topic = settings.topic("dead-letter")
        self.window_s = settings.ms("batch_window") / 1000
        self.bootstrap = bootstrap
        self.producer: AIOKafkaProducer | None = None
        self.metrics = metrics
        self.broker_error: str | None = None    # why the last publication failed, until one works
        self._queue: list[_Queued] = []
        self._partitions: dict[str, int] = {}
        self._flusher: asyncio.Task | None = None
        self._probe: asyncio.Future | None = None
        self._sending = asyncio.Lock()
        self._warned = False

    async def start(self) -> None:
        self.producer = await _producer(self.bootstrap, self.max_record_bytes)
        self._probe = asyncio.ensure_future(self._watch_broker())
        # What was acknowledged before a crash and not yet passed on goes first, in order.
        self._queue = [_Queued(row.seq, row, 0) for row in self.journal.pending()]
        if self._queue:
            log.warning("publishing %d journal records kept from before the start",
                        len(self._queue))
        await self.flush()

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
        try:
            await self.flush()
        except IngestUnavailable as error:    # they stay in the journal for the next start
            log.error("%s", error)
        await self.producer.stop()

    async def submit(self, body: bytes, source: str, *, wait: bool = False) -> Receipt:
        """Validate a JSON object or array of events and keep the good ones in the journal;
        with `wait`, return only once they are on the broker."""
        if self.broker_error is not None:
            raise IngestUnavailable(f"the broker is unreachable: {self.broker_error}")
        if self.journal.bytes > self.journal_limit:
            raise IngestBusy(f"the service is behind: {self.journal.bytes:,} bytes of accepted "
                             "events are not yet evaluated; send again shortly")
        receipt = Receipt()
        try:
            raws: Iterable = split(body, MAX_EVENTS_PER_RECORD)
        except RecordError as error:
            await self._dead_letter(body, str(error), source, label="record")
            receipt.rejected = 1
            receipt.rejections.append({"index": None, "reason": str(error)})
            self.metrics.ingested.labels(source, "rejected").inc()
            return receipt
        groups: dict[tuple[str, int], list[bytes]] = {}
        contacts: list[Contact] = []
        horizon = self.clock() + self.max_future_ms
        for index, raw in enumerate(raws):
            try:
                t, event = decode(raw)
                if t > horizon:   # the workers would refuse it too, after a 202
                    raise EventError("ts", f"{format_timestamp(t)} is more than "
                                           f"{self.max_future_ms // 1000} s ahead of the clock")
            except EventError as error:
                receipt.rejected += 1
                if len(receipt.rejections) < MAX_REJECTIONS_LISTED:
                    receipt.rejections.append({"index": index, "reason": str(error)})
                await self._dead_letter(raw, str(error), source, index=index)
                continue
            public, contact = without_personal_data(bytes(raw), event)
            if contact is not None:
                contacts.append(contact)
            topic = self.topic
            partitions = self._partitions.get(topic) or await self._count_partitions(topic)
            groups.setdefault((topic, partition_of(area_key(event), partitions)), []).append(
                public)
            receipt.accepted += 1
        if receipt.rejected:
            self.metrics.ingested.labels(source, "rejected").inc(receipt.rejected)
        if not receipt.accepted:
            return receipt
        if contacts:
            await self._keep(contacts)
        rows = [((topic, partition, source, value), count)
                for (topic, partition), events in groups.items()
                for value, count in records(events, max_bytes=self.max_record_bytes)]
        seqs = await asyncio.to_thread(self.journal.append, [row for row, _ in rows])
        # Queued only now: a report is never published before its contact is kept.
        self._queue += [_Queued(seq, JournalRow(seq, *row), events)
                        for seq, (row, events) in zip(seqs, rows, strict=True)]
        self.metrics.ingested.labels(source, "accepted").inc(receipt.accepted)
        if wait or self.window_s <= 0:
            await self.flush()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_later())
        return receipt

    async def _keep(self, contacts: list[Contact]) -> None:
        """Contacts into the ledger before anything is acknowledged; without a ledger they are
        dropped (and counted): no topic may carry them."""
        if self.keep_contacts is None:
            self.metrics.contacts.labels("dropped").inc(len(contacts))
            if not self._warned:
                self._warned = True
                log.warning("reports' contact details are dropped: this process has no ledger "
                            "to keep them in (run the center, or give the worker --store)")
            return
        try:
            await self.keep_contacts(contacts)
        except Exception as error:
            raise IngestUnavailable(f"the ledger cannot keep reporters' contacts: {error}") \
                from error
        self.metrics.contacts.labels("kept").inc(len(contacts))

    async def _count_partitions(self, topic: str) -> int:
        try:
            found = await asyncio.wait_for(self.producer.partitions_for(topic),
                                           _SEND_TIMEOUT_MS / 1000)
        except Exception as error:
            self.broker_error = f"{type(error).__name__}: {error}"
            raise IngestUnavailable(f"the broker is unreachable: {self.broker_error}") from None
        self._partitions[topic] = len(found)
        return self._partitions[topic]

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window_s)
        try:
            await self.flush()
        except IngestUnavailable as error:
            log.error("%s; the records stay in the journal", error)

    async def flush(self) -> None:
        """Publish what the journal holds and was not published yet: the rows of one topic,
        partition and source merged into as few records as the limits allow, each with the
        journal entry of its last row. `IngestUnavailable` if the broker does not take them
        (they stay queued and in the journal)."""
        async with self._sending:
            queued, self._queue = self._queue, []
            if not queued:
                return
            try:
                sent = [await self.producer.send(topic, value, partition=partition,
                                                 headers=headers)
                        for topic, partition, value, headers in self._records(queued)]
                await asyncio.wait_for(asyncio.gather(*sent), _SEND_TIMEOUT_MS / 1000 * 2)
            except Exception as error:
                self._queue = queued + self._queue
                self.broker_error = f"{type(error).__name__}: {error}"
                raise IngestUnavailable(f"the broker did not take the records: "
                                        f"{self.broker_error}") from None
            self.broker_error = None
            if self.durable_broker:
                await asyncio.to_thread(self.journal.trim_sent, [item.seq for item in queued])

    def _records(self, queued: list[_Queued]) -> list[tuple[str, int, bytes, list]]:
        merged: dict[tuple[str, int, str], list[list[_Queued]]] = {}
        for item in queued:
            runs = merged.setdefault((item.row.topic, item.row.partition, item.row.source), [[]])
            run = runs[-1]
            if run and (item.events == 0 or run[-1].events == 0
                        or _too_big(run, item, self.max_record_bytes)):
                runs.append(run := [])
            run.append(item)
        return [(topic, partition, _joined([item.row.value for item in run]),
                 [("ewe-source", source.encode()), self.journal.header(run[-1].seq)])
                for (topic, partition, source), runs in merged.items() for run in runs]

    async def _watch_broker(self) -> None:
        """Ask the broker for its metadata every second: an ingest whose broker is gone says so
        (and refuses events) without waiting for a send to fail."""
        while True:
            try:
                await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2.0)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.broker_error is None:
                    log.error("the broker is unreachable: %r", error)
                self.broker_error = f"no answer to a metadata request ({type(error).__name__})"
            else:
                if self._queue:     # left by a publication that failed: try it again
                    try:
                        await self.flush()
                    except IngestUnavailable:
                        pass
                else:
                    self.broker_error = None
            await asyncio.sleep(1.0)

    def health(self) -> str | None:
        """Why the ingest cannot take events now (None: it can)."""
        if self.broker_error is not None:
            return f"ingest: the broker is unreachable: {self.broker_error}"
        return None

    async def _dead_letter(self, raw: bytes, reason: str, source: str, label: str = "invalid",
                           **origin) -> None:
        self.metrics.dead_letters.labels(label).inc()
        await self.producer.send(self.dead_letter_topic,
                                 dead_letter(raw, reason, source=source, **origin))


async def _producer(bootstrap: str, max_record_bytes: int) -> AIOKafkaProducer:
    """A producer whose sends every in-sync replica has (acks=all), idempotent where the broker
    supports it. Tansu does not: a send retried there can arrive twice, and the workers then
    skip the copy by its journal entry."""
    options = dict(bootstrap_servers=bootstrap, linger_ms=5, acks="all", compression_type="zstd",
                   max_request_size=max_record_bytes + _RECORD_OVERHEAD,
                   request_timeout_ms=_SEND_TIMEOUT_MS)
    producer = AIOKafkaProducer(enable_idempotence=True, **options)
    try:
        await producer.start()
        return producer
    except KafkaError as error:
        await producer.stop()
        log.info("the broker gives no producer ids (%s): sending without idempotence", error)
    producer = AIOKafkaProducer(**options)
    await producer.start()
    return producer


def _too_big(run: list[_Queued], item: _Queued, max_bytes: int) -> bool:
    return (sum(len(queued.row.value) for queued in run) + len(item.row.value) > max_bytes
            or sum(queued.events for queued in run) + item.events > MAX_EVENTS_PER_RECORD)


def _joined(values: list[bytes]) -> bytes:
    """One JSON array from several (each `[...]`, as `records` made them)."""
    if len(values) == 1:
        return values[0]
    return b"[" + b",".join(value[1:-1] for value in values) + b"]"
