"""Faults in the middle of a simulated day: what is lost, duplicated, extra or stuck.

    python bench/chaos [--hours 24] [--devices 500] [--pause 30] [--only NAME]

Runs each scenario of `scenarios.py` on a fresh data directory and prints one table; exits 1
when a row is not clean (anything lost, duplicated, extra or stuck). The PostgreSQL row
restarts the local PostgreSQL cluster (pg_ctlcluster), and needs to be allowed to.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--pause", type=float, default=30)
    parser.add_argument("--only", action="append", help="scenario names (default: all)")
    args = parser.parse_args()
    events = scenarios.city(args.hours, args.devices)
    print(f"{len(events):,} events: a simulated city of {args.devices} devices over "
          f"{args.hours} h, fed in POSTs of 200\n", flush=True)
    header = (f"{'fault':<48} {'acknowledged':>12} {'expected':>9} {'lost':>5} "
              f"{'dup':>4} {'extra':>6} {'stuck':>6} {'recovered':>10}")
    print(header + "\n" + "-" * len(header), flush=True)
    clean = True
    for name in args.only or scenarios.SCENARIOS:
        began = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            row = scenarios.run(name, Path(work), events, args.pause)
        clean &= row.clean
        print(f"{row.fault:<48} {row.acknowledged:>12,} {row.expected:>9,} {row.lost:>5} "
              f"{row.duplicated:>4} {row.extra:>6} {row.stuck:>6} {row.recovered_s:>9.1f}s"
              f"   ({time.monotonic() - began:.0f} s)", flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
