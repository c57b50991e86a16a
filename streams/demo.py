"""`ewe run --demo`: the simulated city, fed live through the ingest.

The city's last six hours are sent at once (a backfill, evaluated in its own event time, so the
first alerts appear within seconds); then the city goes on in real time, a simulated day at a
time, each with its own incidents.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import mode
import orjson

from engine.events import parse_timestamp
from engine.simulation import simulate
from streams.ingest import Ingest, IngestBusy, IngestUnavailable
from streams.records import join
from streams.settings import Settings

__all__ = ["DemoCity"]

BACKFILL_MS = 6 * 3_600_000
DAY_MS = 86_400_000
CHUNK = 2_000


class DemoCity(mode.Service):
    def __init__(self, settings: Settings, ingest: Ingest, clock: Callable[[], int],
                 **kwargs) -> None:
        self.devices = settings.demo_devices
        self.ingest = ingest
        self.clock = clock
        super().__init__(**kwargs)

    @mode.Service.task
    async def _feed(self) -> None:
        start = self.clock() - BACKFILL_MS
        while not self.should_stop:
            city = simulate(seed=random.randrange(1 << 30), duration_ms=DAY_MS,
                            devices=self.devices, start_ms=start)
            chunk: list[bytes] = []
            for event in city.events:
                chunk.append(orjson.dumps(event))
                t = parse_timestamp(event["ts"])
                if len(chunk) >= CHUNK or t > self.clock():
                    await self._submit(join(chunk))
                    chunk = []
                    while t > self.clock() and not self.should_stop:
                        await self.sleep(0.1)
                if self.should_stop:
                    return
            start += DAY_MS

    async def _submit(self, body: bytes) -> None:
        while not self.should_stop:
            try:
                await self.ingest.submit(body, "demo")
                return
            except (IngestBusy, IngestUnavailable):
                await self.sleep(1.0)
