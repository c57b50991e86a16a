"""Composite: level shifts that are new, and new extremes, each reported once.

Three detectors, each for what it is good at, and two rules for what an operator needs:

* `CUSUM` finds lasting shifts of level, but a series with a rhythm shifts every day;
* `Novelty` tells whether the stretch of series around the shift has been seen before: a shift
  counts only when the novelty score is at least `novelty_gate` (so a daily rise is not news, a
  rise into a shape never seen is);
* `NewExtreme` finds values beyond everything seen, whatever the rhythm.

An alarm is a score of 0.5 or more. After a shift alarm, further shift alarms wait
`shift_refractory` observations (a shift keeps the cumulative sums busy for a while after it);
after any alarm, every alarm waits `refractory` observations. An alarm held back by either rule,
or a shift that is not new, scores half of what it would (below 0.5, in the same order).

The score is the larger of the shift's and the extreme's. The cost is that of `Novelty`, about
35 µs per observation with its defaults: one model per area or device type.

Parameters
----------
cusum, novelty, extreme
    Parameters of the three parts.
novelty_gate
    Novelty score from which a shift counts (0.23: the nearest earlier stretch is at least 0.3
    times as far as the most unusual one percent lately).
shift_refractory, refractory
    Observations a repeated alarm waits, after a shift alarm and after any alarm.

Examples
--------
>>> import random
>>> rng = random.Random(1)
>>> detector = Composite(extreme={"margin": 0.05, "warmup": 100},
...                      novelty={"width": 8, "history": 500, "reference": 300, "warmup": 20})
>>> scores = []
>>> for i in range(600):                        # a level of 10, then a jump to 30 at i = 500
...     x = {"value": (10.0 if i < 500 else 30.0) + rng.uniform(-1, 1)}
...     scores.append(detector.score_one(x))
...     detector.learn_one(x)
>>> alarms = [i for i, s in enumerate(scores) if s >= 0.5]
>>> alarms[0], len(alarms)                      # at once, and once
(500, 1)
"""
from __future__ import annotations

from typing import Any

from engine.anomaly.base import Detector
from engine.anomaly.change import CUSUM
from engine.anomaly.extreme import NewExtreme
from engine.anomaly.novelty import Novelty

__all__ = ["Composite"]

_NEVER = -(2 ** 62)


class Composite(Detector):
    def __init__(self, cusum: dict[str, Any] | None = None, novelty: dict[str, Any] | None = None,
                 extreme: dict[str, Any] | None = None, novelty_gate: float = 0.3 / 1.3,
                 shift_refractory: int = 300, refractory: int = 50) -> None:
        self.cusum = cusum if cusum is not None else {"threshold": 20.0, "drift": 0.5}
        self.novelty = novelty if novelty is not None else {}
        self.extreme = extreme if extreme is not None else {}
        self.novelty_gate = novelty_gate
        self.shift_refractory = shift_refractory
        self.refractory = refractory
        self._shift = CUSUM(**self.cusum)
        self._novelty = Novelty(**self.novelty)
        self._extreme = NewExtreme(**self.extreme)
        self._n = 0
        self._last_shift = _NEVER
        self._last_alarm = _NEVER

    def score_one(self, x: dict[str, float]) -> float:
        return self._judge(x)[0]

    def learn_one(self, x: dict[str, float]) -> None:
        _, shift_alarm, alarm = self._judge(x)
        if shift_alarm:
            self._last_shift = self._n
        if alarm:
            self._last_alarm = self._n
        for part in (self._shift, self._novelty, self._extreme):
            part.learn_one(x)
        self._n += 1

    def _judge(self, x: dict[str, float]) -> tuple[float, bool, bool]:
        """(score, whether a shift alarm is raised, whether an alarm is raised) for `x`."""
        shift = self._shift.score_one(x)
        if shift >= 0.5:
            if self._novelty.score_one(x) < self.novelty_gate:
                shift /= 2          # a shift into a stretch seen before: the rhythm, not news
            elif self._n - self._last_shift < self.shift_refractory:
                shift /= 2
        shift_alarm = shift >= 0.5
        score = max(shift, self._extreme.score_one(x))
        alarm = score >= 0.5 and self._n - self._last_alarm >= self.refractory
        if score >= 0.5 and not alarm:
            score /= 2
        return score, shift_alarm, alarm

    @classmethod
    def _unit_test_params(cls) -> dict:
        return {"novelty": Novelty._unit_test_params(),
                "extreme": NewExtreme._unit_test_params(), "shift_refractory": 50,
                "refractory": 10}
