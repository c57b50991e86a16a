"""One worker on the embedded broker, fed by a separate producer process.

    python bench/pipeline.py [--events 1000000] [--rate 5000] [--seconds 30] [--lateness 0s]

Throughput: the simulated city of bench/replay.py (5,000 devices, cached under bench/.cache/),
batched as ewe's producers batch it at 50,000 events/s (one record per topic, partition and 20 ms),
is produced as fast as the producer can while one `ewe worker` with the shipped rules evaluates
it; the worker's own `ewe_events_total` gives the sustained rate.

Latency: a producer stamps readings with the wall clock at `--rate` events/s (one record per
topic, partition and 20 ms, like the HTTP and MQTT ingest), one in a hundred a smoke alarm of a new
detector, which the shipped fire.smoke.alarm rule turns into an alert. A consumer of the alerts
topic measures event time to arrival of each alert: producer batching, broker, worker, alert
produce and consumer fetch included.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import pickle
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from replay import CACHE, city_file  # noqa: E402

from engine.durations import parse_duration  # noqa: E402
from engine.events import decode, parse_timestamp  # noqa: E402
from streams.broker import EmbeddedBroker, free_port  # noqa: E402
from streams.records import area_key, join, partition_of  # noqa: E402

# The events a producer receiving 50,000 events/s would put in one 20 ms window.
SLICE_EVENTS = 1_000
PARTITIONS = 4   # the worker's default


# -- the producer process ------------------------------------------------------------------------
def batched_city(events: int) -> Path:
    """The first `events` events of the city as (topic suffix, partition, record value)."""
    path = CACHE / f"records-{events}-{PARTITIONS}p.pickle"
    if path.exists():
        return path
    records, groups, current = [], {}, None
    with open(city_file(events), "rb") as lines:
        for count, raw in enumerate(lines):
            if count == events:
                break
            raw = raw.rstrip(b"\n")
            _, event = decode(raw)
            if count // SLICE_EVENTS != current:
                records += [(topic, key, join(queued)) for (topic, key), queued in groups.items()]
                groups, current = {}, count // SLICE_EVENTS
            groups.setdefault((event.kind + "s", partition_of(area_key(event), PARTITIONS)),
                              []).append(raw)
    records += [(topic, key, join(queued)) for (topic, key), queued in groups.items()]
    path.write_bytes(pickle.dumps(records))
    return path


async def _produce_all(bootstrap: str, prefix: str, path: Path) -> None:
    records = pickle.loads(path.read_bytes())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5,
                                max_request_size=16 * 1024 * 1024, max_batch_size=1 << 20)
    await producer.start()
    sent = [await producer.send(prefix + topic, value, partition=partition)
            for topic, partition, value in records]
    await asyncio.gather(*sent)
    await producer.stop()


async def _produce_live(bootstrap: str, prefix: str, rate: int, seconds: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    per_tick = max(1, round(rate * 0.02))   # a 20 ms window of the ingest
    began, sequence, alarms = time.monotonic(), 0, 0
    while time.monotonic() - began < seconds:
        now = time.time_ns() // 1_000_000
        groups: dict[int, list[bytes]] = {}
        for _ in range(per_tick):
            sequence += 1
            device = sequence % 5_000
            grid = f"G{device % 100:03d}"
            if sequence % 100 == 0:
                alarms += 1
                event = {"kind": "reading", "id": f"e{sequence}", "ts": now,
                         "device_id": f"smoke-{alarms}", "type": "smoke", "value": 3.0,
                         "location": {"grid": grid, "building": f"B{alarms}"}}
            else:
                event = {"kind": "reading", "id": f"e{sequence}", "ts": now,
                         "device_id": f"wl-{device}", "type": "water_level", "value": 0.02,
                         "location": {"grid": grid}}
            groups.setdefault(partition_of(grid, PARTITIONS), []).append(orjson.dumps(event))
        for partition, events in groups.items():
            await producer.send(prefix + "readings", join(events), partition=partition)
        await asyncio.sleep(max(0.0, began + (sequence / rate) - time.monotonic()))
    await producer.flush()
    await producer.stop()


def producer_process(target, *args) -> multiprocessing.Process:
    process = multiprocessing.Process(target=lambda: asyncio.run(target(*args)), daemon=True)
    process.start()
    return process


# -- the worker ----------------------------------------------------------------------------------
class Worker:
    def __init__(self, broker: EmbeddedBroker, prefix: str, lateness: str, data_dir: Path):
        self.port = free_port()
        env = {**os.environ, "EWE_TOPIC_PREFIX": prefix, "EWE_GROUP": prefix + "bench",
               "EWE_LATENESS": lateness}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ewe", "worker", "--broker", broker.url,
             "--http", f"127.0.0.1:{self.port}", "--data-dir", str(data_dir)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("worker not healthy in 30 s")

    def counter(self, name: str) -> float:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics").read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def resident_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


# -- the phases ----------------------------------------------------------------------------------
def throughput(broker: EmbeddedBroker, events: int, data_dir: Path) -> None:
    path = batched_city(events)
    records = len(pickle.loads(path.read_bytes()))
    worker = Worker(broker, "tp.", "2m", data_dir / "tp")
    cpu_before = worker.cpu_seconds()
    producer = producer_process(_produce_all, broker.bootstrap, "tp.", path)
    samples = []
    while True:
        done = worker.counter("ewe_events_total") + worker.counter("ewe_late_events_total")
        samples.append((time.monotonic(), done))
        if done >= events * 0.999 or (len(samples) > 10 and samples[-10][1] == done):
            break
        time.sleep(1)
    cpu = worker.cpu_seconds() - cpu_before
    pauses = worker.counter("ewe_checkpoint_pause_seconds_count")
    pause_mean = worker.counter("ewe_checkpoint_pause_seconds_sum") / max(1, pauses) * 1000
    resident = worker.resident_mib()
    late = worker.counter("ewe_late_events_total")
    producer.join()
    worker.stop()
    alerts = asyncio.run(_count_records(broker.bootstrap, "tp.alerts"))
    first = next(i for i, (_, count) in enumerate(samples) if count > 0)
    low = next(s for s in samples if s[1] >= done * 0.1)
    high = next(s for s in samples if s[1] >= done * 0.9)
    print(f"throughput      {done:,.0f} events in {records:,} records "
          f"({done / records:,.0f} events per record)")
    print(f"                sustained {(high[1] - low[1]) / (high[0] - low[0]):,.0f} events/s "
          f"(10%–90%), overall {done / (samples[-1][0] - samples[first][0]):,.0f} events/s; "
          f"worker CPU {cpu / done * 1e6:.1f} µs per event, {resident:,.0f} MiB resident; "
          f"{pauses:.0f} checkpoint pauses of {pause_mean:.1f} ms on average")
    print(f"                {alerts:,} alert records, {late:,.0f} late events (a replay of the "
          "same events gives the same alerts before its final flush)")


async def _count_records(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        total = 0
        while batches := await consumer.getmany(timeout_ms=2_000):
            total += sum(len(messages) for messages in batches.values())
        return total
    finally:
        await consumer.stop()


async def _collect_alerts(bootstrap: str, topic: str, seconds: float, until_ms: float,
                          ) -> list[float]:
    """Event time to arrival of each alert fired for an event stamped before `until_ms`."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, fetch_max_wait_ms=5,
                                auto_offset_reset="latest")
    await consumer.start()
    latencies = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            batches = await consumer.getmany(timeout_ms=50)
            arrived = time.time_ns() / 1e6
            for messages in batches.values():
                for message in messages:
                    alert = orjson.loads(message.value)
                    at = parse_timestamp(alert["at"])
                    if alert["change"] == "fired" and at < until_ms:
                        latencies.append(arrived - at)
    finally:
        await consumer.stop()
    return latencies


def latency(broker: EmbeddedBroker, rate: int, seconds: float, lateness: str,
            data_dir: Path) -> None:
    prefix = f"lat{lateness}."
    worker = Worker(broker, prefix, lateness, data_dir / prefix)
    cpu_before = worker.cpu_seconds()
    # The feed runs on for a while after the measured span: the alerts of a feed's last
    # seconds wait for the idle partition's watermark, which is not the steady state.
    tail = parse_duration(lateness) / 1000 + 3
    until_ms = time.time_ns() / 1e6 + seconds * 1000
    producer = producer_process(_produce_live, broker.bootstrap, prefix, rate, seconds + tail)
    latencies = asyncio.run(_collect_alerts(broker.bootstrap, prefix + "alerts", seconds + tail,
                                            until_ms))
    producer.join()
    cpu = worker.cpu_seconds() - cpu_before
    events = worker.counter("ewe_events_total")
    pauses = worker.counter("ewe_checkpoint_pause_seconds_count")
    pause_mean = worker.counter("ewe_checkpoint_pause_seconds_sum") / max(1, pauses) * 1000
    worker.stop()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(f"latency         {rate:,} events/s, {seconds:.0f} s measured, lateness {lateness}: "
          f"{len(latencies)} alerts, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, "
          f"max {latencies[-1]:.0f} ms, mean {statistics.mean(latencies):.0f} ms; "
          f"worker CPU {cpu / (seconds + tail) * 100:.0f}% of a core for {events:,.0f} events; "
          f"{pauses:.0f} checkpoint pauses of {pause_mean:.1f} ms on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--lateness", nargs="+", default=["0s", "2s"])
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    data_dir = CACHE / "pipeline"
    subprocess.run(["rm", "-rf", str(data_dir)], check=True)
    with EmbeddedBroker() as broker:
        if not args.skip_throughput:
            throughput(broker, args.events, data_dir)
        for lateness in args.lateness:
            latency(broker, args.rate, args.seconds, lateness, data_dir)


if __name__ == "__main__":
    main()
