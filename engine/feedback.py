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

__all__ = ["RuleVerdicts", "VERDICTS", "verdict_of", "report_texts", "correction_of"]

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


def report_texts(record: dict) -> list[str]:
    """The texts (masked) of the reports behind an alert record: what a category correction
    teaches the classifiers.

    >>> report_texts({"evidence": [{"id": "r1", "text": "楼道漏水"}, {"id": "w1", "value": 2}]})
    ['楼道漏水']
    """
    return [item["text"] for item in record.get("evidence") or () if item.get("text")]


def correction_of(kind: str, data: dict) -> tuple[str, list[str]] | None:
    """The category an operator gave an alert's reports, and their texts; None if the chain
    event is not such a correction.

    >>> correction_of("feedback", {"corrected_category": "noise", "texts": ["楼下太吵"]})
    ('noise', ['楼下太吵'])
    >>> correction_of("feedback", {"satisfaction": 4}) is None
    True
    """
    category, texts = data.get("corrected_category"), data.get("texts")
    if kind != "feedback" or not isinstance(category, str) or not isinstance(texts, list):
        return None
    texts = [text for text in texts if isinstance(text, str) and text]
    return (category, texts) if texts else None
