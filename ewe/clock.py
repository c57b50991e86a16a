"""The wall clock, in epoch milliseconds: the one place it is read.

The engine never reads it. The composition root hands it to what needs it: the streaming shell
(to refuse events from the future and move an idle partition's watermark), the center (SLA
deadlines, tokens), the demo city; everything takes it as an argument, so tests pass their own.
"""
from __future__ import annotations

import time

__all__ = ["wall_ms"]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000
