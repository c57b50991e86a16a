"""Half-space trees (river) behind min-max scaling, with a calibrated score.

river's `HalfSpaceTrees` is an online isolation forest over every feature of `x` but the time
`t`: points that land in sparsely populated
cells of random half-space partitions score high. Its raw score depends on the trees' depth and
window, so here it passes through a `TailCalibration`: the score is the share of recent raw
scores below this one. A model costs about 30 µs per observation and a megabyte of memory, so it
runs per device type or per area, never per device. It finds scattered outliers; points that
arrive in a dense cluster, and slow drifts, look normal to it.

Parameters
----------
n_trees, height, window_size, seed
    Passed to `river.anomaly.HalfSpaceTrees`.
warmup
    Observations before the first non-zero score.
fading_factor
    Of the calibration histogram.

Examples
--------
>>> detector = HalfSpaceTrees(n_trees=5, height=6, window_size=20, seed=1, warmup=20)
>>> for i in range(200):
...     x = {"value": 10.0 + (i % 7) * 0.1}
...     detector.learn_one(x)
>>> detector.score_one({"value": 10.3}) < detector.score_one({"value": 50.0})
True

References
----------
Tan, S. C., Ting, K. M., & Liu, T. F. (2011). Fast anomaly detection for streaming data. IJCAI.
"""
from __future__ import annotations

from river import anomaly, preprocessing

from engine.anomaly.base import Detector
from engine.anomaly.calibration import TailCalibration

__all__ = ["HalfSpaceTrees"]


class HalfSpaceTrees(Detector):
    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 42,
                 warmup: int = 250, fading_factor: float = 0.002) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.warmup = warmup
        self.fading_factor = fading_factor
        self._model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self._calibration = TailCalibration(fading_factor=fading_factor)
        self._n = 0
        self._last: tuple[dict, float] | None = None   # (features, raw score) of the last scored

    def _raw(self, features: dict[str, float]) -> float:
        if self._last is not None and self._last[0] == features:
            return self._last[1]
        raw = self._model.score_one(features)
        self._last = (features, raw)
        return raw

    @staticmethod
    def _features(x: dict[str, float]) -> dict[str, float]:
        return {name: value for name, value in x.items() if name != "t"}

    def score_one(self, x: dict[str, float]) -> float:
        if self._n < self.warmup:
            return 0.0
        return self._calibration.score(self._raw(self._features(x)))

    def learn_one(self, x: dict[str, float]) -> None:
        features = self._features(x)
        self._calibration.learn(self._raw(features))
        self._model.learn_one(features)
        self._last = None
        self._n += 1

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"n_trees": 3, "height": 4, "window_size": 10, "warmup": 10}
