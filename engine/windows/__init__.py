"""Per-key window objects for the window functions of the rule language."""
from __future__ import annotations

from typing import Any

from engine.expr import WindowSpec
from engine.windows.distinct import Distinct, FirstSeen, Previous
from engine.windows.extrema import Max, Min
from engine.windows.reference import AvgCount
from engine.windows.sliding import Count, Delta, Mean, Rate, StdDev, Sum

__all__ = ["make_window", "WINDOW_CLASSES"]

WINDOW_CLASSES: dict[str, Any] = {
    "count": Count, "sum": Sum, "avg": Mean, "stddev": StdDev, "delta": Delta, "rate": Rate,
    "min": Min, "max": Max, "distinct": Distinct, "first_seen": FirstSeen, "previous": Previous,
}


def make_window(spec: WindowSpec) -> Any:
    """A fresh, empty window for one window-function call of a rule."""
    if spec.function == "avg_count":
        return AvgCount(spec.duration_ms, spec.over_ms)
    return WINDOW_CLASSES[spec.function](spec.duration_ms)
