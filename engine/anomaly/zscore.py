"""Exponentially weighted z-score: how many standard deviations a value lies from the recent mean.

The cheap per-key detector: three numbers of state (mean, variance, count), constant time per
observation, a score that means the same for every key (the normal tail probability of the
z-score). It works for readings that wander around a level — water depth on a dry road, gas
concentration, a meter at night — and catches spikes and jumps. It fails on readings with a
strong daily rhythm (use `SeasonalZScore`), and after a lasting level shift it adapts within
about 1 / fading_factor observations, after which the new level is normal.

Parameters
----------
fading_factor
    Weight of each new observation in the mean and variance, in (0, 1): 0.01 remembers about the
    last hundred observations.
warmup
    Observations before the first non-zero score.

Examples
--------
>>> detector = ZScore(fading_factor=0.1, warmup=3)
>>> for value in [1.0, 1.2, 0.9, 1.1, 1.0, 0.95]:
...     detector.learn_one({"value": value})
>>> round(detector.score_one({"value": 1.05}), 3), round(detector.score_one({"value": 3.0}), 3)
(0.199, 1.0)

References
----------
Finch, T. (2009). Incremental calculation of weighted mean and variance.
"""
from __future__ import annotations

from math import sqrt

from engine.anomaly.base import Detector, ew_step, gaussian_score

__all__ = ["ZScore"]


class ZScore(Detector):
    def __init__(self, fading_factor: float = 0.01, warmup: int = 30) -> None:
        if not 0 < fading_factor < 1:
            raise ValueError(f"fading_factor must be in (0, 1), got {fading_factor}")
        self.fading_factor = fading_factor
        self.warmup = warmup
        self._mean = 0.0
        self._var = 0.0
        self._n = 0

    def learn_one(self, x: dict[str, float]) -> None:
        self._n += 1
        # Plain averages until 1 / fading_factor observations: an exponential average started
        # from one value underestimates the variance and would flag everything early on.
        weight = max(self.fading_factor, 1.0 / self._n)
        self._mean, self._var = ew_step(self._mean, self._var, x["value"], weight)

    def score_one(self, x: dict[str, float]) -> float:
        if self._n < self.warmup:
            return 0.0
        deviation = x["value"] - self._mean
        if self._var <= 0.0:
            return 0.0 if deviation == 0 else 1.0
        return gaussian_score(deviation / sqrt(self._var))

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"fading_factor": 0.05, "warmup": 5}
