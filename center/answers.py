"""Answers of the board's reads, kept until the ledger changes.

Boards ask the same few questions over and over (the first page of a filter, its counts, its
area tree) while the ledger changes a few times a second at most. An answer is kept with the
ledger's generation at the moment its query began; any committed change (this process's, at
once; another replica's, when its notification arrives) moves the generation on, and an answer
of an older generation is never given again. `max_age_s` bounds how stale an answer can be if a
notification is lost on the way.

>>> ticks = iter(range(100))
>>> answers = Answers(clock=lambda: next(ticks), max_age_s=10)
>>> generation = answers.generation
>>> answers.keep("/v1/alerts?limit=50", b"[1]", generation)
>>> answers.get("/v1/alerts?limit=50")
b'[1]'
>>> answers.changed()
>>> answers.get("/v1/alerts?limit=50") is None
True
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["Answers"]


class Answers:
    def __init__(self, *, max_entries: int = 1024, max_bytes: int = 32 * 1024 * 1024,
                 max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries, self.max_bytes, self.max_age_s = max_entries, max_bytes, max_age_s
        self.clock = clock
        self.generation = 0
        self._kept: OrderedDict[str, tuple[int, float, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()     # the API's reads run in worker threads
        # (key, generation) -> the query under way, for the callers on the event loop
        self.pending: dict[tuple[str, int], Any] = {}

    def changed(self, *_: object) -> None:
        """The ledger changed: every answer kept is out of date (a store listener, too)."""
        with self._lock:
            self.generation += 1
            self._kept.clear()
            self._bytes = 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            generation, at, body = kept
            if generation != self.generation or self.clock() - at > self.max_age_s:
                self._drop(key)
                return None
            self._kept.move_to_end(key)
            return body

    def keep(self, key: str, body: bytes, generation: int) -> None:
        """The answer to `key` as of `generation` (read before the query began)."""
        with self._lock:
            if generation != self.generation or len(body) > self.max_bytes // 8:
                return
            self._drop(key)
            self._kept[key] = (generation, self.clock(), body)
            self._bytes += len(body)
            while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._kept)))

    def _drop(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept[2])
