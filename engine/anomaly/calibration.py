"""Calibration of a raw anomaly measure into a score in [0, 1] that means the same everywhere.

`TailCalibration` keeps an exponentially faded histogram of the raw values it has seen and scores
a raw value by the share of recent raw values below it: on normal data the scores spread evenly
over [0, 1], so a threshold of 0.999 means "rarer than one in a thousand recent observations"
for every model, whatever the scale of its raw measure.

Parameters
----------
lower, upper
    Range of the raw measure; values outside are clipped into the first or last bin.
bins
    Resolution of the histogram.
fading_factor
    Weight of each new raw value: the histogram remembers about 1 / fading_factor of them.

Examples
--------
>>> calibration = TailCalibration(bins=10)
>>> for raw in [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95] * 10:
...     calibration.learn(raw)
>>> round(calibration.score(0.5), 2), round(calibration.score(0.99), 2)
(0.55, 0.95)
"""
from __future__ import annotations

__all__ = ["TailCalibration"]


class TailCalibration:
    def __init__(self, lower: float = 0.0, upper: float = 1.0, bins: int = 200,
                 fading_factor: float = 0.001) -> None:
        self.lower = lower
        self.upper = upper
        self.bins = bins
        self.fading_factor = fading_factor
        self._counts = [0.0] * bins
        self._total = 0.0

    def _bin(self, raw: float) -> int:
        position = (raw - self.lower) / (self.upper - self.lower)
        return min(self.bins - 1, max(0, int(position * self.bins)))

    def score(self, raw: float) -> float:
        if self._total <= 0.0:
            return 0.0
        index = self._bin(raw)
        below = sum(self._counts[:index]) + 0.5 * self._counts[index]
        return below / self._total

    def learn(self, raw: float) -> None:
        keep = 1.0 - self.fading_factor
        counts = self._counts
        for index in range(self.bins):
            counts[index] *= keep
        counts[self._bin(raw)] += 1.0
        self._total = self._total * keep + 1.0
