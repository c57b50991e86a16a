"""Two-sided CUSUM: level shifts and slow trends that a z-score forgets while it adapts.

Each value is standardised against a slow exponentially weighted mean and deviation; the
cumulative sums g+ = max(0, g+ + z - drift) and g- = max(0, g- - z - drift) grow while values keep
falling on one side of the usual level. The score is g / (g + threshold): 0.5 when the evidence
reaches the classic decision threshold h, approaching 1 beyond it. After the score passes 0.5 the
sums restart, so one shift gives one alarm, and the slow statistics adopt the new level. It fails
on isolated spikes (one point moves g by one z at most; use `ZScore`) and on series whose noise
is strongly autocorrelated, where runs on one side are normal.

Parameters
----------
drift
    Allowance per observation, in standard deviations: shifts smaller than this are ignored.
threshold
    The decision threshold h of the cumulative sums, in standard deviations.
fading_factor
    Weight of a new observation in the slow mean and variance.
warmup
    Observations before the first non-zero score.

Examples
--------
>>> import random
>>> rng = random.Random(7)
>>> detector = CUSUM(drift=0.5, threshold=5.0, fading_factor=0.01, warmup=20)
>>> scores = []
>>> for i in range(100):              # the level moves up by two deviations at i = 70
...     x = {"value": (0.0 if i < 70 else 2.0) + rng.gauss(0, 1)}
...     scores.append(detector.score_one(x))
...     detector.learn_one(x)
>>> max(scores[:70]) < 0.5 < max(scores[70:])
True

References
----------
Page, E. S. (1954). Continuous inspection schemes. Biometrika, 41(1/2), 100-115.
"""
from __future__ import annotations

from math import sqrt

from engine.anomaly.base import Detector, ew_step

__all__ = ["CUSUM"]


class CUSUM(Detector):
    def __init__(self, drift: float = 0.5, threshold: float = 8.0, fading_factor: float = 0.005,
                 warmup: int = 30) -> None:
        self.drift = drift
        self.threshold = threshold
        self.fading_factor = fading_factor
        self.warmup = warmup
        self._mean = 0.0
        self._var = 0.0
        self._n = 0
        self._up = 0.0
        self._down = 0.0

    def _z(self, value: float) -> float:
        return (value - self._mean) / sqrt(self._var) if self._var > 0 else 0.0

    def _sums(self, value: float) -> tuple[float, float]:
        z = self._z(value)
        return max(0.0, self._up + z - self.drift), max(0.0, self._down - z - self.drift)

    def score_one(self, x: dict[str, float]) -> float:
        if self._n < self.warmup:
            return 0.0
        evidence = max(self._sums(x["value"]))
        return evidence / (evidence + self.threshold)

    def learn_one(self, x: dict[str, float]) -> None:
        value = x["value"]
        if self._n >= self.warmup:
            self._up, self._down = self._sums(value)
            if max(self._up, self._down) >= self.threshold:
                self._up = self._down = 0.0
        self._n += 1
        weight = max(self.fading_factor, 1.0 / self._n)   # plain averages at first, as ZScore
        self._mean, self._var = ew_step(self._mean, self._var, value, weight)

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"warmup": 5, "fading_factor": 0.05}
