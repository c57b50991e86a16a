"""Seasonal z-score: each value against the usual level of its hour of the day.

A water meter reads 40 litres at 7 in the morning and nothing at 3; a z-score against the overall
mean calls both unusual. This detector keeps an exponentially weighted mean per slot of a period
(by default the 24 hours of a day) and scores a value by its distance to its own slot's mean, in
units of the deviation pooled over all slots: the rhythm moves the level, rarely the noise, and a
deviation estimated from one slot's dozen values would be too often too small. It catches a
meter that stays silent in the morning or runs at night. Until a slot has seen `warmup` values,
the value is scored against the overall mean and deviation instead. It fails when the rhythm
itself drifts faster than 1 / fading_factor periods, and when the noise differs much from one
slot to another.

Parameters
----------
period_ms
    Length of the rhythm in milliseconds (default one day).
slots
    Slots per period (default 24: one per hour).
offset_ms
    Added to the time before slotting: +8 h makes slots follow China Standard Time.
fading_factor
    Weight of a new observation in its slot's mean (the pooled deviation uses fading_factor /
    slots, so it remembers as many periods).
warmup
    Observations of a slot before it is used; observations overall before any score.

Examples
--------
>>> detector = SeasonalZScore(slots=2, period_ms=2, fading_factor=0.2, warmup=2)
>>> for t in range(40):                 # even slots read about 10, odd ones about 0
...     detector.learn_one({"t": t, "value": (10.0 if t % 2 == 0 else 0.0) + (t % 3) * 0.1})
>>> round(detector.score_one({"t": 40, "value": 10.1}), 3)   # normal for an even slot
0.072
>>> round(detector.score_one({"t": 41, "value": 10.1}), 3)   # far too high for an odd one
1.0
"""
from __future__ import annotations

from math import sqrt

from engine.anomaly.base import Detector, ew_step, gaussian_score

__all__ = ["SeasonalZScore"]


class SeasonalZScore(Detector):
    def __init__(self, period_ms: int = 86_400_000, slots: int = 24, offset_ms: int = 0,
                 fading_factor: float = 0.1, warmup: int = 3) -> None:
        if not 0 < fading_factor < 1:
            raise ValueError(f"fading_factor must be in (0, 1), got {fading_factor}")
        self.period_ms = period_ms
        self.slots = slots
        self.offset_ms = offset_ms
        self.fading_factor = fading_factor
        self.warmup = warmup
        # per slot, and a last entry for all slots together: [mean, variance, count]
        self._stats = [[0.0, 0.0, 0] for _ in range(slots + 1)]
        self._residual_var = 0.0   # of values around their slot's mean, pooled over slots
        self._residuals = 0

    def _slot(self, t: float) -> int:
        return int((t + self.offset_ms) % self.period_ms * self.slots // self.period_ms)

    def learn_one(self, x: dict[str, float]) -> None:
        value = x["value"]
        slot = self._stats[self._slot(x["t"])]
        if slot[2] > 0:
            self._residuals += 1
            weight = max(self.fading_factor / self.slots, 1.0 / self._residuals)
            residual = value - slot[0]
            self._residual_var = (1 - weight) * (self._residual_var + weight * residual ** 2)
        _update(slot, value, self.fading_factor)
        _update(self._stats[-1], value, self.fading_factor)

    def score_one(self, x: dict[str, float]) -> float:
        overall = self._stats[-1]
        if overall[2] < self.warmup:
            return 0.0
        slot = self._stats[self._slot(x["t"])]
        if slot[2] >= self.warmup:
            mean, variance = slot[0], self._residual_var
        else:
            mean, variance = overall[0], overall[1]
        deviation = x["value"] - mean
        if variance <= 0.0:
            return 0.0 if deviation == 0 else 1.0
        return gaussian_score(deviation / sqrt(variance))

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"period_ms": 100, "slots": 4, "fading_factor": 0.2, "warmup": 2}


def _update(stats: list, value: float, fading_factor: float) -> None:
    """Exponentially weighted mean and variance, plain averages until 1 / fading_factor values."""
    count = stats[2] = stats[2] + 1
    weight = max(fading_factor, 1.0 / count)
    stats[0], stats[1] = ew_step(stats[0], stats[1], value, weight)
