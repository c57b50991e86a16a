"""Ingest: validate events at the edge and publish them as batched Kafka records.

HTTP and MQTT both end here. Each event is decoded once to learn its kind and area key; it then
travels as its original bytes. Events are grouped per topic and partition (of their area key)
and sent as one record per group and `batch_window`, because the workers pay per record, not per
event. Rejected events go to the dead-letter topic with their reason and are also answered to
the sender.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from engine.events import EventError, decode, format_timestamp
from streams.clock import wall_ms
from streams.metrics import PipelineMetrics
from streams.records import RecordError, area_key, dead_letter, join, partition_of, split
from streams.settings import Settings

__all__ = ["Ingest", "Receipt", "MAX_REJECTIONS_LISTED"]

MAX_REJECTIONS_LISTED = 100


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
                 clock: Callable[[], int] = wall_ms) -> None:
        self.topics = {"reading": settings.topic("readings"), "report": settings.topic("reports")}
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
        groups = self._groups
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
            topic = self.topics[event.kind]
            partitions = self._partitions.get(topic) or await self._count_partitions(topic)
            group = (topic, partition_of(area_key(event), partitions), source)
            queued = groups.get(group)
            if queued is None:
                groups[group] = [bytes(raw)]
            else:
                queued.append(bytes(raw))
            receipt.accepted += 1
        if receipt.accepted:
            self.metrics.ingested.labels(source, "accepted").inc(receipt.accepted)
        if receipt.rejected:
            self.metrics.ingested.labels(source, "rejected").inc(receipt.rejected)
        if wait or self.window_s <= 0:
            await self.flush()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_later())
        return receipt

    async def _count_partitions(self, topic: str) -> int:
        self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return self._partitions[topic]

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window_s)
        await self.flush()

    async def flush(self) -> None:
        groups, self._groups = self._groups, {}
        sent = [await self.producer.send(topic, join(events), partition=partition,
                                         headers=[("ewe-source", source.encode())])
                for (topic, partition, source), events in groups.items()]
        if sent:
            await asyncio.gather(*sent)

    async def _dead_letter(self, raw: bytes, reason: str, source: str, label: str = "invalid",
                           **origin) -> None:
        self.metrics.dead_letters.labels(label).inc()
        await self.producer.send(self.dead_letter_topic,
                                 dead_letter(raw, reason, source=source, **origin))
