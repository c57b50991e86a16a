"""What every detector shares: river's two verbs, a score in [0, 1], and a warm-up.

`learn_one(x)` updates the detector with one observation and returns nothing; `score_one(x)`
only reads and returns how anomalous `x` looks, in [0, 1], high meaning anomalous, and 0.0 while
the detector has seen fewer than `warmup` observations. Score first, then learn: that is how a
stream is scored without the point judging itself.

`x` is a dict of features, at least {"value": float}; detectors that follow a daily rhythm also
read {"t": epoch milliseconds}.
"""
from __future__ import annotations

import copy
import inspect
from math import erf, sqrt
from typing import Any

__all__ = ["Detector", "gaussian_score", "ew_step"]


def gaussian_score(z: float) -> float:
    """The two-sided tail probability of |z| under a normal law, turned into a score:
    P(|Z| < |z|). Standard normal data gives scores spread evenly over [0, 1].

    >>> round(gaussian_score(0.0), 3), round(gaussian_score(1.96), 3), round(gaussian_score(4), 6)
    (0.0, 0.95, 0.999937)
    """
    return erf(abs(z) / sqrt(2.0))


def ew_step(mean: Any, var: Any, value: Any, weight: Any) -> tuple[Any, Any]:
    """One step of an exponentially weighted mean and variance, for numbers and numpy arrays
    alike: the (mean, variance) after `value`, given the weight of the newest value.

    >>> mean, var = 0.0, 0.0
    >>> for n, value in enumerate([1.0, 3.0], start=1):
    ...     mean, var = ew_step(mean, var, value, 1.0 / n)   # plain averages
    >>> mean, var
    (2.0, 1.0)
    """
    delta = value - mean
    return mean + weight * delta, (1 - weight) * (var + weight * delta * delta)


class Detector:
    """Base class: parameters are kept verbatim, learned state lives in `_`-prefixed attributes."""

    def learn_one(self, x: dict[str, float]) -> None:
        raise NotImplementedError

    def score_one(self, x: dict[str, float]) -> float:
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def clone(self) -> Detector:
        """A fresh detector with the same parameters and no learned state."""
        return type(self)(**copy.deepcopy(self.params))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        return f"{type(self).__name__}({arguments})"

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Cheap constructor arguments for the conformance tests."""
        return {}
