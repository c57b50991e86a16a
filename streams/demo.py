"""`ewe run --demo`: the simulated city, fed live through the ingest.

The city's last two hours are sent at once (a backfill, evaluated in its own event time, so the
first alerts appear within seconds); then the city goes on in real time, a simulated day at a
time. Its incidents come 24 times as often as in the benchmarks' city (about one a minute for
the default thousand devices), so the board always has something firing to work on.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import mode
import orjson

from engine.events import parse_timestamp
from engine.simulation import Simulation, simulate
from streams.ingest import Ingest, IngestBusy, IngestUnavailable
from streams.records import join
from streams.settings import Settings

__all__ = ["DemoCity"]

_HOUR_MS = 3_600_000
BACKFILL_MS = 2 * _HOUR_MS
DAY_MS = 86_400_000
CHUNK = 2_000
INTENSITY = 24.0


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
        quiet_ms = BACKFILL_MS // 2         # the models' first hour; later days go straight on
        while not self.should_stop:
            city = demo_day(random.randrange(1 << 30), start, self.devices, quiet_ms)
            quiet_ms = 0
            chunk: list[bytes] = []
            for event in city.events:
                t = parse_timestamp(event["ts"])
                if t >= start + DAY_MS:
                    break
                chunk.append(orjson.dumps(event))
                if len(chunk) >= CHUNK or t > self.clock():
                    await self._submit(join(chunk))
                    chunk = []
                    while t > self.clock() and not self.should_stop:
                        await self.sleep(0.1)
                if self.should_stop:
                    return
            await self._submit(join(chunk))
            start += DAY_MS

    async def _submit(self, body: bytes) -> None:
        while not self.should_stop:
            try:
                await self.ingest.submit(body, "demo")
                return
            except (IngestBusy, IngestUnavailable):
                await self.sleep(1.0)


def demo_day(seed: int, start: int, devices: int, quiet_ms: int) -> Simulation:
    """A day of the demo's busy city, planned an hour longer: an incident needs at least an
    hour after its start, and the day's last hour should have new ones too (the feed stops at
    the end of the day, and the next day goes on from there)."""
    return simulate(seed=seed, duration_ms=DAY_MS + _HOUR_MS, devices=devices, start_ms=start,
                    intensity=INTENSITY, quiet_ms=quiet_ms)
