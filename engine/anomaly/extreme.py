"""New extremes: a value beyond everything the series has shown so far.

The detector keeps the smallest and largest value seen. A value outside that range by more than
`margin` of its width is a new extreme: the score is e / (e + margin), where e is the excess as a
share of the range, so it reaches 0.5 exactly at the margin and approaches 1 beyond. Inside the
range the score is 0. Three numbers of state, constant time: it catches the spike or the level
that breaks a record, and says nothing about what happens inside the range (use a z-score,
CUSUM or `Novelty` for that).

Parameters
----------
margin
    Excess over the range, as a share of its width, that scores 0.5.
warmup
    Observations before the first non-zero score: the range needs time to be known.

Examples
--------
>>> detector = NewExtreme(margin=0.25, warmup=3)
>>> for value in [10.0, 14.0, 12.0, 11.0]:
...     detector.learn_one({"value": value})
>>> detector.score_one({"value": 13.0}), detector.score_one({"value": 15.0})
(0.0, 0.5)
"""
from __future__ import annotations

from engine.anomaly.base import Detector

__all__ = ["NewExtreme"]


class NewExtreme(Detector):
    def __init__(self, margin: float = 0.05, warmup: int = 150) -> None:
        if margin < 0:
            raise ValueError(f"margin must be zero or more, got {margin}")
        self.margin = margin
        self.warmup = warmup
        self._n = 0
        self._low = 0.0
        self._high = 0.0

    def score_one(self, x: dict[str, float]) -> float:
        width = self._high - self._low
        if self._n < self.warmup or width <= 0:
            return 0.0
        value = x["value"]
        excess = max(value - self._high, self._low - value) / width
        if excess <= 0:
            return 0.0
        return excess / (excess + self.margin) if self.margin else 1.0

    def learn_one(self, x: dict[str, float]) -> None:
        value = x["value"]
        if self._n == 0:
            self._low = self._high = value
        else:
            self._low = min(self._low, value)
            self._high = max(self._high, value)
        self._n += 1

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"margin": 0.05, "warmup": 20}
