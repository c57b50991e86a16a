"""Fuzzing the edges: hostile inputs to the event decoder, the HTTP ingest, the rule loader and
the expression compiler.

    python bench/fuzz [--cases 100000] [--only decode,ingest,rules,expressions]

Each target must answer every input (or refuse it with its own error: an `EventError`, a
`RuleFileError` with file and line, an `ExpressionError`, an HTTP 4xx), within a second, and
nothing it reads may run code: a canary file that the inputs try to create stays absent. Prints
cases, failures (with the input) and the slowest case per target; exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402

from streams.broker import EmbeddedBroker  # noqa: E402

NAMES = ("decode", "ingest", "rules", "expressions")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(NAMES))
    args = parser.parse_args()
    targets.CANARY.unlink(missing_ok=True)
    failed = False
    for name in args.only.split(","):
        began = time.perf_counter()
        if name == "ingest":
            with EmbeddedBroker() as broker:
                ingest = targets.HttpIngest(broker.bootstrap)
                try:
                    figures = targets.run(targets.BODIES, ingest.check, args.cases)
                finally:
                    ingest.close()
        else:
            strategy, check = {
                "decode": (targets.EVENT_BYTES, targets.check_decode),
                "rules": (targets.rule_file(), targets.check_rule_file),
                "expressions": (targets.expression_text(), targets.check_expression)}[name]
            figures = targets.run(strategy, check, args.cases)
        print(figures.line(name) + f"  in {time.perf_counter() - began:,.0f} s", flush=True)
        for case, reason in figures.failures:
            print(f"    FAILED {reason}\n      input: {case!r}")
        failed |= bool(figures.failures)
    executed = targets.CANARY.exists()
    print(f"canary {targets.CANARY}: {'CREATED: an input ran code' if executed else 'absent'}")
    return 1 if failed or executed else 0


if __name__ == "__main__":
    sys.exit(main())
