"""The Python process around the engine: its garbage collector, tuned for the engine's objects."""
from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Events and per-key state are acyclic and freed by reference counting; the cyclic
    collector's default thresholds would traverse all of them many times a second."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
