"""An ensemble that takes the highest of its members' calibrated scores.

Members answer different questions — a spike (`ZScore`), a departure from the hour's usual level
(`SeasonalZScore`), a lasting shift (`CUSUM`) — and because every score is a calibrated tail
measure, the largest one says which question found something.

Examples
--------
>>> from engine.anomaly.zscore import ZScore
>>> from engine.anomaly.change import CUSUM
>>> ensemble = Ensemble([ZScore(warmup=5), CUSUM(warmup=5)])
>>> for value in [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0]:
...     ensemble.learn_one({"value": value})
>>> ensemble.score_one({"value": 9.0}) > ensemble.score_one({"value": 1.0})
True
"""
from __future__ import annotations

from engine.anomaly.base import Detector

__all__ = ["Ensemble"]


class Ensemble(Detector):
    def __init__(self, members: list[Detector]) -> None:
        self.members = members

    def score_one(self, x: dict[str, float]) -> float:
        return max(member.score_one(x) for member in self.members)

    def learn_one(self, x: dict[str, float]) -> None:
        for member in self.members:
            member.learn_one(x)

    def clone(self) -> Ensemble:
        return Ensemble([member.clone() for member in self.members])

    @classmethod
    def _unit_test_params(cls) -> dict:
        from engine.anomaly.change import CUSUM
        from engine.anomaly.zscore import ZScore
        return {"members": [ZScore(warmup=5), CUSUM(warmup=5)]}
