"""`ewe detect`: score an exported series with one detector, row by row, score before learning."""
from __future__ import annotations

import ast
import csv
from datetime import UTC, datetime
from typing import Any, TextIO

from engine.anomaly import Detector

__all__ = ["score_csv", "parse_params"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`["fading_factor=0.02", "slots=24"]` → {"fading_factor": 0.02, "slots": 24}."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator or not name.isidentifier():
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        try:
            params[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            params[name] = text
    return params


def score_csv(detector: Detector, source: TextIO, out: TextIO) -> int:
    """Read `timestamp,value` rows, write `timestamp,value,anomaly_score`; returns the row count.

    Timestamps are ISO 8601; one without an offset is taken as UTC. Rows are processed in file
    order, as they come.
    """
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None or [name.strip() for name in header[:2]] != ["timestamp", "value"]:
        raise ValueError("the first line must be the header timestamp,value")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    rows = 0
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            moment = datetime.fromisoformat(row[0])
            value = float(row[1])
        except (ValueError, IndexError):
            raise ValueError(f"line {number}: expected an ISO 8601 timestamp and a number, "
                             f"got {row!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        x = {"t": (moment - _EPOCH).total_seconds() * 1000.0, "value": value}
        score = detector.score_one(x)
        detector.learn_one(x)
        writer.writerow([row[0], row[1], repr(score)])
        rows += 1
    return rows
