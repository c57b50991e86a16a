"""Subsequence novelty: how far the latest stretch of a series is from everything seen before.

The last `width` values form a shape: centred on their own mean and divided by the series'
standard deviation, plus one more coordinate for where that mean lies (its distance from the
series' mean, in standard deviations). The raw measure is the Euclidean distance from this shape
to its nearest neighbour among the `history` shapes before it (those overlapping the current one
excepted: a stretch always resembles itself shifted by one). A daily pattern that repeats, a
burst that has happened before, a level the series has visited: all have a close neighbour. A
flatline in the middle of a rhythm, a new waveform, a level never seen: none has.

The distance is calibrated by the distances of the recent past: the score is r / (1 + r), where
r is the distance divided by the 99th percentile of the last `reference` distances, so 0.5 means
"as far as the most unusual one percent lately", whatever the units of the series. It costs one
matrix-vector product over `history` shapes per observation: about 35 µs and up to 3 MB with the
defaults, a model per area or device type, not per device.

Parameters
----------
width
    Values in a shape.
history
    Shapes kept to compare with.
reference
    Recent distances the percentile is taken over.
warmup
    Distances seen before the first non-zero score.

Examples
--------
>>> import math
>>> detector = Novelty(width=8, history=200, reference=100, warmup=20)
>>> for i in range(300):
...     detector.learn_one({"value": math.sin(i / 3)})
>>> detector.score_one({"value": math.sin(300 / 3)}) < 0.5     # the wave goes on
True
>>> detector.score_one({"value": 2.5}) > 0.9                   # a jump the wave never made
True

References
----------
Yeh, C.-C. M. et al. (2016). Matrix Profile I: All pairs similarity joins for time series.
IEEE ICDM. (The left matrix profile: each subsequence against the ones before it.)
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from math import sqrt

import numpy as np

from engine.anomaly.base import Detector

__all__ = ["Novelty"]


class Novelty(Detector):
    def __init__(self, width: int = 32, history: int = 6000, reference: int = 3000,
                 warmup: int = 50) -> None:
        if width < 2:
            raise ValueError(f"width must be at least 2, got {width}")
        self.width = width
        self.history = history
        self.reference = reference
        self.warmup = warmup
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._recent: deque[float] = deque(maxlen=width - 1)
        # Shapes, oldest first; rows [0, _rows) are filled.
        self._span = history + width
        self._shapes = np.empty((0, width + 1))
        self._norms = np.empty(0)      # squared length of each stored shape
        self._rows = 0
        self._distances: deque[float] = deque()
        self._sorted: list[float] = []
        # The last shape and distance worked out, for (observations seen, value): learn_one
        # after score_one of the same point needs them again.
        self._cached: tuple[int, float, tuple] | None = None

    def score_one(self, x: dict[str, float]) -> float:
        distance = self._distance(x["value"])[1]
        if distance is None or len(self._sorted) <= self.warmup:
            return 0.0
        ratio = distance / (self._percentile() + 1e-9)
        return ratio / (1.0 + ratio)

    def learn_one(self, x: dict[str, float]) -> None:
        value = x["value"]
        shape, distance = self._distance(value)
        self._n += 1
        delta = value - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (value - self._mean)
        self._recent.append(value)
        if shape is None:
            return
        self._append(shape)
        if distance is not None:
            self._remember(distance)

    def _distance(self, value: float) -> tuple[np.ndarray | None, float | None]:
        """The shape that ends with `value` and its distance to the nearest earlier one."""
        if self._cached is not None and self._cached[:2] == (self._n, value):
            return self._cached[2]
        result: tuple[np.ndarray | None, float | None] = (None, None)
        if len(self._recent) == self.width - 1:
            n = self._n + 1
            mean = self._mean + (value - self._mean) / n
            m2 = self._m2 + (value - self._mean) * (value - mean)
            deviation = sqrt(m2 / n) or 1.0
            values = np.array([*self._recent, value])
            centre = values.mean()
            shape = np.append((values - centre) / deviation, (centre - mean) / deviation)
            # Earlier shapes that do not overlap this one: all but the last `width` stored.
            end = max(0, self._rows - self.width)
            start = max(0, end - self.history)
            distance = None
            if end > start:
                # |c - s|² = |c|² - 2 c·s + |s|²: one matrix-vector product instead of a
                # temporary as large as the history.
                squared = self._norms[start:end] - 2.0 * (self._shapes[start:end] @ shape)
                distance = sqrt(max(float(squared.min()) + float(shape @ shape), 0.0))
            result = (shape, distance)
        self._cached = (self._n, value, result)
        return result

    def _append(self, shape: np.ndarray) -> None:
        if self._rows == len(self._shapes):
            # Full: keep the shapes that can still be compared with (the last `_span`), in an
            # array twice their number, so that a young series costs little and dropping the
            # oldest is a rare copy.
            first = max(0, self._rows - self._span)
            kept = self._rows - first
            rows = min(max(2 * kept, 64), 2 * self._span)
            shapes, norms = np.empty((rows, self.width + 1)), np.empty(rows)
            shapes[:kept] = self._shapes[first:self._rows]
            norms[:kept] = self._norms[first:self._rows]
            self._shapes, self._norms, self._rows = shapes, norms, kept
        self._shapes[self._rows] = shape
        self._norms[self._rows] = shape @ shape
        self._rows += 1

    def _remember(self, distance: float) -> None:
        self._distances.append(distance)
        insort(self._sorted, distance)
        if len(self._distances) > self.reference:
            oldest = self._distances.popleft()
            del self._sorted[bisect_left(self._sorted, oldest)]

    def _percentile(self) -> float:
        """The 99th percentile of the remembered distances (linear interpolation)."""
        ordered = self._sorted
        position = 0.99 * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"width": 8, "history": 200, "reference": 100, "warmup": 20}
