"""Detector parameters checked against the detector's own signature, when a rule file is loaded.

A misspelt or mistyped parameter must be refused by `ewe rules check`, with the line, not found
by the first matching event of a running worker. Each given name is looked up in the signature
of the detector's constructor (with a "did you mean"), each value checked against the annotation
(a number, a whole number, or the parameters of a part), and the detector is then built and fed
a short test series, so that a value no type can rule out (a fading factor of 5) is refused too.

>>> check_params("zscore", {"fading_factr": 0.9})
[('fading_factr', "unknown parameter 'fading_factr' (did you mean 'fading_factor'?)")]
>>> check_params("zscore", {"fading_factor": "banana"})
[('fading_factor', "fading_factor: expected a number, got 'banana'")]
>>> check_params("composite", {"cusum": {"threshold": 20, "drift": True}})
[('cusum', 'cusum.drift: expected a number, got True')]
>>> check_params("zscore", {"fading_factor": 5})
[('', 'fading_factor must be in (0, 1), got 5')]
"""
from __future__ import annotations

import inspect
import math
from typing import Any

from engine.suggest import hint

__all__ = ["check_params"]

_PROBE_POINTS = 120


def _signatures() -> dict[str, tuple[type, dict[str, type]]]:
    """Each detector name: the class whose constructor takes its parameters, and its parts
    (parameters that are themselves a part's parameters)."""
    from engine.anomaly.change import CUSUM
    from engine.anomaly.composite import Composite
    from engine.anomaly.ensemble import Ensemble
    from engine.anomaly.extreme import NewExtreme
    from engine.anomaly.novelty import Novelty
    from engine.anomaly.seasonal import SeasonalZScore
    from engine.anomaly.zscore import ZScore

    return {
        "zscore": (ZScore, {}), "seasonal": (SeasonalZScore, {}), "cusum": (CUSUM, {}),
        "novelty": (Novelty, {}), "new_extreme": (NewExtreme, {}),
        "composite": (Composite, {"cusum": CUSUM, "novelty": Novelty, "extreme": NewExtreme}),
        "ensemble": (Ensemble, {"zscore": ZScore, "seasonal": SeasonalZScore, "cusum": CUSUM}),
    }


def check_params(detector: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with `params` for the detector named, as (parameter, message); [] if none.
    The parameter is '' for a problem found by building or running the detector."""
    if detector == "half_space_trees":
        from engine.anomaly.hst import HalfSpaceTrees  # river: only when a file asks for it
        owner, parts = HalfSpaceTrees, {}
    else:
        from engine.anomaly import DETECTORS
        owner, parts = _signatures().get(detector, (DETECTORS[detector], {}))
    if owner.__name__ == "Ensemble":   # its constructor takes built members, its file the parts
        problems = _check_names(params, tuple(parts), "")
        for name, part in parts.items():
            if name in params:
                problems += _check_part(part, params[name], name)
    else:
        problems = _check_fields(owner, params, parts, "")
    if problems:
        return problems
    return _probe(detector, params)


def _check_part(owner: type, value: Any, path: str) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [(path.split(".")[0], f"{path}: expected the part's parameters "
                                     f"({', '.join(_parameters(owner))}), got {value!r}")]
    return _check_fields(owner, value, {}, f"{path}.")


def _check_fields(owner: type, params: dict[str, Any], parts: dict[str, type],
                  prefix: str) -> list[tuple[str, str]]:
    signature = _parameters(owner)
    problems = _check_names(params, tuple(signature), prefix)
    for name, value in params.items():
        if name not in signature:
            continue
        top = (prefix + name).split(".")[0]
        if name in parts:
            if value is not None:
                problems += _check_part(parts[name], value, prefix + name)
            continue
        expected = signature[name]
        problem = _type_problem(expected, value)
        if problem:
            problems.append((top, f"{prefix}{name}: {problem}, got {value!r}"))
    return problems


def _check_names(params: dict[str, Any], allowed: tuple[str, ...],
                 prefix: str) -> list[tuple[str, str]]:
    problems = []
    for name in params:
        if name not in allowed:
            top = (prefix + str(name)).split(".")[0]
            problems.append((top, f"unknown parameter {prefix + str(name)!r} "
                                  f"({hint(name, allowed, 'known')})"))
    return problems


def _parameters(owner: type) -> dict[str, Any]:
    signature = inspect.signature(owner.__init__, eval_str=True)
    return {name: parameter.annotation for name, parameter in signature.parameters.items()
            if name != "self"}


def _type_problem(expected: Any, value: Any) -> str | None:
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "expected a number"
        if not math.isfinite(value):
            return "expected a finite number"
    elif expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "expected a whole number"
    elif expected is bool and not isinstance(value, bool):
        return "expected true or false"
    return None


def _probe(detector: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """Build the detector and run it over a short series with a step: what its constructor or
    its arithmetic refuses is refused now, not by the first event of a running worker."""
    from engine.anomaly import make_detector

    try:
        built = make_detector(detector, **params)
        for i in range(_PROBE_POINTS):
            x = {"t": 1_782_864_000_000 + i * 60_000,
                 "value": float(i % 7) + (10.0 if i > _PROBE_POINTS // 2 else 0.0),
                 "f1": float(i % 3)}
            score = built.score_one(x)
            if not 0.0 <= score <= 1.0:
                return [("", f"gives the score {score!r} on a test series (expected 0 to 1)")]
            built.learn_one(x)
    except Exception as error:   # any failure of a detector's code is a refusal of the file
        message = str(error).removeprefix(f"detector {detector!r}: ")
        return [("", message or type(error).__name__)]
    return []
