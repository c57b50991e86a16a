"""The streaming runtime end to end: a real worker process on the real embedded broker."""
from __future__ import annotations

import time

import orjson
import pytest

from engine.events import decode
from engine.pack import Pack
from engine.simulation import simulate
from streams.broker import EmbeddedBroker
from streams.records import area_key
from streaming import (
    ROOT,
    WorkerProcess,
    batched_records,
    changes,
    consume,
    produce,
    replayed,
    unique_prefix,
)

WEEK_MS = 7 * 86_400_000
LATENESS_MS = 120_000


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="module")
def pack():
    return Pack.load([ROOT / "rules"])


@pytest.fixture(scope="module")
def old_city():
    """Three hours of a city, five weeks ago: a gateway's buffer or a backfill, uploaded now.
    Each area ends with a reading a day later, so every partition's watermark passes every
    event, live as in replay."""
    start = (time.time_ns() // 1_000_000 - 5 * WEEK_MS) // 3_600_000 * 3_600_000
    events = [orjson.dumps(event) for event in
              simulate(seed=7, duration_ms=3 * 3_600_000, devices=160, start_ms=start).events]
    last = max(decode(raw)[0] for raw in events)
    areas = sorted({area_key(decode(raw)[1]) for raw in events})
    events += [orjson.dumps({"kind": "reading", "id": f"end-{area}", "ts": last + 86_400_000,
                             "device_id": f"end-{area}", "type": "end_of_test", "value": 0,
                             "location": {"grid": area}}) for area in areas]
    return events


def alerts_of(values: list[bytes]) -> list[dict]:
    return [orjson.loads(value) for value in values]


def test_live_stream_of_weeks_old_events_gives_the_replayed_alerts(broker, pack, old_city,
                                                                   tmp_path):
    expected = changes(replayed(old_city, pack, LATENESS_MS))
    assert len(expected) > 50
    prefix = unique_prefix()
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=prefix, lateness="2m",
                           idle_after="0s").start()
    try:
        produce(broker.bootstrap, batched_records(old_city, prefix))
        live = consume(broker.bootstrap, f"{prefix}alerts",
                       done=lambda values: len(changes(alerts_of(values))) >= len(expected),
                       timeout=60, settle=1.5)
    finally:
        worker.stop()
    assert changes(alerts_of(live)) == expected
