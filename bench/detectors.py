"""Cost of the per-key anomaly detectors at city scale.

    python bench/detectors.py [--keys 1000000] [--batch 10000] [--points 3000000]

Feeds `ZScoreArray` micro-batches of readings from `--keys` devices (keys drawn at random, so
batches repeat some keys) and prints microseconds per point and the bytes of state per key
(numbers and key table, measured with tracemalloc); then the same for one `ZScore` object per
key, scored and learned one point at a time, for comparison.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.anomaly.batch import ZScoreArray  # noqa: E402
from engine.anomaly.zscore import ZScore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=3_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    names = [f"dev-{i:07d}" for i in range(args.keys)]
    tracemalloc.start()
    detector = ZScoreArray(capacity=1)
    detector.slots_of(names)                       # every key known: the full state
    state_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    picks = rng.integers(0, args.keys, args.points)
    values = rng.normal(10, 2, args.points)
    started = time.perf_counter()
    for start in range(0, args.points, args.batch):
        chunk = picks[start:start + args.batch]
        detector.score_learn([names[i] for i in chunk], values[start:start + args.batch])
    elapsed = time.perf_counter() - started
    print(f"ZScoreArray   {args.keys:,} keys, batches of {args.batch:,}: "
          f"{elapsed / args.points * 1e6:.2f} µs/point, {state_bytes / args.keys:.0f} bytes/key "
          "(arrays and key table; the key strings themselves are the caller's)")
    singles: dict[str, ZScore] = {}
    points = min(args.points, 500_000)
    started = time.perf_counter()
    for i in range(points):
        key = names[picks[i]]
        model = singles.get(key)
        if model is None:
            model = singles[key] = ZScore()
        x = {"value": values[i]}
        model.score_one(x)
        model.learn_one(x)
    elapsed = time.perf_counter() - started
    print(f"ZScore        one object per key, point by point: {elapsed / points * 1e6:.2f} "
          "µs/point")


if __name__ == "__main__":
    main()
