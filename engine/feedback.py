"""Operators' verdicts on alerts, folded into each rule's precision.

The latest verdict on an alert counts (staff may change their mind); precision is true positives
over all judged alerts of the rule.

>>> verdicts = RuleVerdicts()
>>> verdicts.record("a1", "gas.concentration.high", "true_positive")
>>> verdicts.record("a2", "gas.concentration.high", "false_positive")
>>> verdicts.record("a2", "gas.concentration.high", "true_positive")
>>> verdicts.precision("gas.concentration.high")
1.0
>>> verdicts.counts("gas.concentration.high")
{'true_positive': 2, 'false_positive': 0}
"""
from __future__ import annotations

from collections import Counter

__all__ = ["RuleVerdicts", "VERDICTS", "verdict_of"]

VERDICTS = ("true_positive", "false_positive")


class RuleVerdicts:
    def __init__(self) -> None:
        self._latest: dict[str, tuple[str, str]] = {}       # alert id -> (rule, verdict)
        self._counts: dict[str, Counter] = {}

    def record(self, alert_id: str, rule: str, verdict: str) -> None:
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
        previous = self._latest.get(alert_id)
        if previous is not None:
            self._counts[previous[0]][previous[1]] -= 1
        self._latest[alert_id] = (rule, verdict)
        self._counts.setdefault(rule, Counter())[verdict] += 1

    def counts(self, rule: str) -> dict[str, int]:
        counts = self._counts.get(rule, Counter())
        return {verdict: counts[verdict] for verdict in VERDICTS}

    def precision(self, rule: str) -> float | None:
        """True positives over judged alerts; None while none of the rule's alerts is judged."""
        counts = self.counts(rule)
        judged = sum(counts.values())
        return counts["true_positive"] / judged if judged else None


def verdict_of(kind: str, data: dict) -> str | None:
    """The verdict a chain event carries: a `false_positive` action, or feedback with one.

    >>> verdict_of("false_positive", {}), verdict_of("feedback", {"satisfaction": 5})
    ('false_positive', None)
    """
    if kind == "false_positive":
        return "false_positive"
    if kind == "feedback":
        return data.get("verdict")
    return None
