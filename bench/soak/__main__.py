"""A long feed through the HTTP ingest: memory stays bounded and every event is accounted for.

    python bench/soak [--minutes 30] [--rate 20000] [--devices 40000]

Starts `ewe run` (embedded broker, center on SQLite) and feeds it a simulated city over HTTP at
`rate` events per second from a process of its own, in POSTs of 500 events sent again until
acknowledged. The city's event time runs ahead of the wall clock (it starts 60 hours back), so
that a day of a large city fits in the run. Every minute it prints the resident memory of each
process (ewe, the embedded broker) and the counts so far; at the end, the events acknowledged
against those evaluated and dead-lettered. `ewe run` restarts in place when its broker holds
more than `broker_limit_mb` (the counters of the service start again from zero then: the
bench adds them up across restarts).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "chaos"))

from scenarios import Process  # noqa: E402

from engine.simulation import simulate  # noqa: E402

HOUR_MS = 3_600_000


def feed(url: str, rate: int, seconds: float, devices: int, sent, done) -> None:
    """The feeder process: simulated events at `rate` per second, for `seconds`."""
    start = (time.time_ns() // 1_000_000 - 60 * HOUR_MS) // 60_000 * 60_000
    events = simulate(seed=5, duration_ms=58 * HOUR_MS, devices=devices, start_ms=start).events
    began = time.monotonic()
    batch: list[bytes] = []
    for event in events:
        batch.append(orjson.dumps(event))
        if len(batch) < 500:
            continue
        body = b"[" + b",".join(batch) + b"]"
        while True:
            try:
                request = urllib.request.Request(f"{url}/v1/events", data=body, method="POST")
                with urllib.request.urlopen(request, timeout=30) as answer:
                    if answer.status == 202:
                        break
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.5)
        sent.value += len(batch)
        batch = []
        ahead = sent.value / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() - began > seconds:
            break
    done.value = 1


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Counters:
    """Counter totals across restarts of the service (each restart starts them at zero)."""

    NAMES = ("ewe_ingest_events_total", "ewe_events_total", "ewe_late_events_total",
             "ewe_dead_letters_total", "ewe_duplicate_events_total")

    def __init__(self) -> None:
        self.banked = dict.fromkeys(self.NAMES, 0.0)
        self.last = dict.fromkeys(self.NAMES, 0.0)

    def scrape(self, url: str) -> None:
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
                text = answer.read().decode()
        except OSError:
            return
        now = dict.fromkeys(self.NAMES, 0.0)
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in now and 'outcome="rejected"' not in line:
                now[name] += float(line.rsplit(" ", 1)[1])
        for name, value in now.items():
            if value < self.last[name]:            # the service restarted
                self.banked[name] += self.last[name]
            self.last[name] = value

    def total(self, name: str) -> int:
        return int(self.banked[name] + self.last[name])


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=40_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        service = Process(Path(work), "run", EWE_IDLE_AFTER="1s", EWE_LATENESS="2s",
                          EWE_CHECKPOINT_EVERY="10s").start()
        sent, done = multiprocessing.Value("q", 0), multiprocessing.Value("b", 0)
        feeder = multiprocessing.Process(target=feed, args=(service.url, args.rate,
                                                            args.minutes * 60, args.devices,
                                                            sent, done))
        feeder.start()
        counters = Counters()
        began = time.monotonic()
        peaks: dict[str, float] = {}
        print(f"{'minute':>6} {'sent':>12} {'evaluated':>12} {'ewe MiB':>8} "
              f"{'broker MiB':>10} {'restarts':>8}", flush=True)
        restarts, minute = 0, 0
        while time.monotonic() - began < args.minutes * 60 + 300:
            accounted = counters.total("ewe_events_total") + counters.total(
                "ewe_late_events_total")
            if done.value and accounted >= sent.value:
                break
            time.sleep(5)
            before = dict(counters.last)
            counters.scrape(service.url)
            restarts += any(counters.last[n] < before[n] for n in Counters.NAMES)
            pid = service.process.pid
            broker = sum(rss_mb(child) for child in children(pid))
            peaks["ewe"] = max(peaks.get("ewe", 0), rss_mb(pid))
            peaks["broker"] = max(peaks.get("broker", 0), broker)
            if (time.monotonic() - began) // 60 > minute:
                minute = int((time.monotonic() - began) // 60)
                print(f"{minute:>6} {sent.value:>12,} "
                      f"{counters.total('ewe_events_total'):>12,} {rss_mb(pid):>8.0f} "
                      f"{broker:>10.0f} {restarts:>8}", flush=True)
        feeder.join()
        elapsed = time.monotonic() - began
        counters.scrape(service.url)
        service.stop()
    accepted = counters.total("ewe_ingest_events_total")
    evaluated = counters.total("ewe_events_total")
    late = counters.total("ewe_late_events_total")
    print(f"\nsent and acknowledged {sent.value:,} events in {elapsed:,.0f} s "
          f"({sent.value / elapsed:,.0f}/s); the ingest counted {accepted:,} accepted")
    print(f"evaluated {evaluated:,}, late (dead-lettered) {late:,}, duplicates "
          f"{counters.total('ewe_duplicate_events_total'):,}; unaccounted for "
          f"{sent.value - evaluated - late:,}")
    print(f"peak resident memory: ewe {peaks.get('ewe', 0):,.0f} MiB, embedded broker "
          f"{peaks.get('broker', 0):,.0f} MiB; in-place restarts {restarts}")
    return 0 if sent.value == evaluated + late else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
