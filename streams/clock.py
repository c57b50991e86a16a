"""The wall clock of the streaming shell, in epoch milliseconds: the one place it is read.

The engine never reads it; the shell uses it to refuse events from the future and to move an
idle partition's watermark. Everything that needs it takes it as an argument, so tests pass
their own.
"""
from __future__ import annotations

import time

__all__ = ["wall_ms"]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000
