"""Online anomaly detection: detectors with river's contract, score calibration, NAB scoring.

Every detector scores an observation in [0, 1] before learning it (`score_one`, then
`learn_one`); `make_detector(name, **params)` builds one by the name rule files and
`ewe detect` use.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.anomaly.base import Detector
from engine.anomaly.change import CUSUM
from engine.anomaly.composite import Composite
from engine.anomaly.ensemble import Ensemble
from engine.anomaly.extreme import NewExtreme
from engine.anomaly.novelty import Novelty
from engine.anomaly.seasonal import SeasonalZScore
from engine.anomaly.zscore import ZScore

__all__ = ["Detector", "DETECTORS", "make_detector"]


def _half_space_trees(**params: Any) -> Detector:
    from engine.anomaly.hst import HalfSpaceTrees  # river loads in half a second: only on use

    return HalfSpaceTrees(**params)


def _ensemble(**params: Any) -> Detector:
    return Ensemble([ZScore(**params.get("zscore", {})),
                     SeasonalZScore(**params.get("seasonal", {})),
                     CUSUM(**params.get("cusum", {}))])


DETECTORS: dict[str, Callable[..., Detector]] = {
    "zscore": ZScore,
    "seasonal": SeasonalZScore,
    "cusum": CUSUM,
    "half_space_trees": _half_space_trees,
    "ensemble": _ensemble,
    "novelty": Novelty,
    "new_extreme": NewExtreme,
    "composite": Composite,
}


def make_detector(name: str, **params: Any) -> Detector:
    """A fresh detector; `ValueError` names the known detectors or the bad parameter."""
    factory = DETECTORS.get(name)
    if factory is None:
        raise ValueError(f"unknown detector {name!r} (known: {', '.join(sorted(DETECTORS))})")
    try:
        return factory(**params)
    except TypeError as error:
        raise ValueError(f"detector {name!r}: {error}") from None
