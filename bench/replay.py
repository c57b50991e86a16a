"""Throughput of `ewe replay` on one core: decode, route, evaluate and emit, with the shipped rules.

    python bench/replay.py [--events 1000000] [--profile]

Generates a simulated city once (cached under bench/.cache/), then replays the file through the
same loop as `ewe replay` (JSON lines read from the file, alert records encoded into memory) and
prints events per second, CPU time per event and the process's peak resident memory.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluator import Evaluator  # noqa: E402
from engine.pack import Pack  # noqa: E402
from engine.simulation import simulate  # noqa: E402
from engine.tuning import tune_gc  # noqa: E402
from ewe.replay import ReplayCounts, replay  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"


def city_file(events: int) -> Path:
    """A simulated city of about `events` events: 5,000 devices for as long as it takes."""
    devices = 5_000
    hours = max(1, round(events / (devices * 15.8)))
    path = CACHE / f"city-{devices}-{hours}h.jsonl"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        started = time.perf_counter()
        run = simulate(seed=42, duration_ms=hours * 3_600_000, devices=devices)
        with open(path, "wb") as out:
            out.writelines(orjson.dumps(event) + b"\n" for event in run.events)
        print(f"generated {path.name} in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return path


def run(lines: Iterable[bytes], pack: Pack) -> tuple[ReplayCounts, int, int]:
    """`ewe replay` minus the file: the same loop, alert records encoded into memory."""
    evaluator = Evaluator(pack)
    sink = io.BytesIO()
    written = 0

    def emit(alerts: list[dict]) -> None:
        nonlocal written
        written += len(alerts)
        sink.write(b"".join(orjson.dumps(alert) + b"\n" for alert in alerts))

    counts = replay(lines, evaluator, emit)
    return counts, written, evaluator.stats()["keys"]


def reference(path: Path) -> float:
    """The yardstick of the target: orjson decoding each line in a bare loop, events per second
    of CPU time. The machine is shared and its speed varies by tens of percent over a day, so
    the replay's figure means most beside this one, measured in the same minute."""
    loads = orjson.loads
    with open(path, "rb") as lines:
        started = time.process_time()
        count = 0
        for raw in lines:
            loads(raw)
            count += 1
    return count / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    path = city_file(args.events)
    pack = Pack.load([ROOT / "rules"])
    yardstick = reference(path)
    tune_gc()
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    with open(path, "rb") as lines:
        counts, alerts, keys = run(lines, pack)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    events = counts.lines
    print(f"events          {events:,} ({path.name}, {len(pack)} rules)")
    print(f"throughput      {events / wall:,.0f} events/s wall, {cpu / events * 1e6:.2f} "
          f"µs CPU per event")
    print(f"reference       {yardstick:,.0f} events/s: orjson decoding the same lines in a bare "
          f"loop (replay: {events / cpu / yardstick:.0%} of it)")
    print(f"alert records   {alerts:,}; rejected {sum(counts.rejected.values())}; "
          f"per-key states {keys:,}")
    print(f"peak memory     {peak / 1024:,.0f} MiB resident ({memory_before / 1024:,.0f} MiB "
          "before the replay)")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    main()
