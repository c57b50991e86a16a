"""Ingest: validate events at the edge and publish them as batched Kafka records.

HTTP and MQTT both end here. Each event is decoded once to learn its kind and area key; it then
travels as its original bytes, except a report with personal data: its `reporter` and original
text go to the center's ledger (`keep_contacts`) before anything is acknowledged, and the report
travels without the one and with the other masked. Events are grouped per topic and partition
(of their area key)
and sent as one record per group and `batch_window`, because the workers pay per record, not per
event. Rejected events go to the dead-letter topic with their reason and are also answered to
the sender.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from engine.events import EventError, decode, format_timestamp, without_personal_data
from engine.privacy import Contact
from streams.clock import wall_ms
from streams.metrics import PipelineMetrics
from streams.records import RecordError, area_key, dead_letter, partition_of, records, split
from streams.settings import Settings

__all__ = ["Ingest", "Receipt", "IngestUnavailable", "MAX_REJECTIONS_LISTED"]

log = logging.getLogger("ewe.ingest")

MAX_REJECTIONS_LISTED = 100


class IngestUnavailable(RuntimeError):
    """The ingest cannot take events now (what it needs is down); nothing was acknowledged."""


@dataclass
class Receipt:
    accepted: int = 0
    rejected: int = 0
    rejections: list[dict] = field(default_factory=list)   # {"index", "reason"}, the first 100

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected,
                "rejections": self.rejections}


class Ingest:
    def __init__(self, settings: Settings, bootstrap: str, metrics: PipelineMetrics, *,
                 clock: Callable[[], int] = wall_ms,
                 keep_contacts: Callable[[list[Contact]], Awaitable[None]] | None = None) -> None:
        self.topics = {"reading": settings.topic("readings"), "report": settings.topic("reports")}
        self.keep_contacts = keep_contacts
        self._warned = False
        self.max_future_ms = settings.ms("max_future")
        self.clock = clock
        self.dead_letter_topic = settings.topic("dead-letter")
        self.window_s = settings.ms("batch_window") / 1000
        self.bootstrap = bootstrap
        self.producer: AIOKafkaProducer | None = None
        self.metrics = metrics
        self._groups: dict[tuple[str, int, str], list[bytes]] = {}
        self._partitions: dict[str, int] = {}
        self._flusher: asyncio.Task | None = None

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5,
                                         max_request_size=16 * 1024 * 1024)
        await self.producer.start()

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush()
        await self.producer.stop()

    async def submit(self, body: bytes, source: str, *, wait: bool = False) -> Receipt:
        """Validate a JSON object or array of events and queue the good ones; with `wait`,
        return only once they are on the broker."""
        receipt = Receipt()
        try:
            raws: Iterable = split(body)
        except RecordError as error:
            await self._dead_letter(body, str(error), source, label="record")
            receipt.rejected = 1
            receipt.rejections.append({"index": None, "reason": str(error)})
            self.metrics.ingested.labels(source, "rejected").inc()
            return receipt
        accepted: list[tuple[tuple[str, int, str], bytes]] = []
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
            topic = self.topics[event.kind]
            partitions = self._partitions.get(topic) or await self._count_partitions(topic)
            accepted.append(((topic, partition_of(area_key(event), partitions), source), public))
        if contacts:
            await self._keep(contacts)
        # Queued only now: a flush under way must not publish a report before its contact is
        # kept (the alert it raises could not find it).
        groups = self._groups
        for group, public in accepted:
            queued = groups.get(group)
            if queued is None:
                groups[group] = [public]
            else:
                queued.append(public)
        receipt.accepted = len(accepted)
        if receipt.accepted:
            self.metrics.ingested.labels(source, "accepted").inc(receipt.accepted)
        if receipt.rejected:
            self.metrics.ingested.labels(source, "rejected").inc(receipt.rejected)
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
        self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return self._partitions[topic]

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window_s)
        await self.flush()

    async def flush(self) -> None:
        groups, self._groups = self._groups, {}
        sent = [await self.producer.send(topic, value, partition=partition,
                                         headers=[("ewe-source", source.encode())])
                for (topic, partition, source), events in groups.items()
                for value in records(events)]
        if sent:
            await asyncio.gather(*sent)

    async def _dead_letter(self, raw: bytes, reason: str, source: str, label: str = "invalid",
                           **origin) -> None:
        self.metrics.dead_letters.labels(label).inc()
        await self.producer.send(self.dead_letter_topic,
                                 dead_letter(raw, reason, source=source, **origin))
