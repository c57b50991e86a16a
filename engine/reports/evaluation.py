"""How well a classifier does: progressive validation, accuracy, macro-F1, F1 per category.

Progressive validation classifies each labelled report, then learns it: every report is judged
by a model that has not seen it, in the order reports would arrive, which is how an online
classifier lives.

>>> pairs = [("noise", "noise"), ("noise", "leak"), ("leak", "leak"), ("leak", "leak")]
>>> f1_by_category(pairs)
{'leak': 0.8, 'noise': 0.667}
>>> scores(pairs)
Scores(reports=4, accuracy=0.75, macro_f1=0.733)
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import NamedTuple

from engine.reports.classifier import Classifier, Verdict

__all__ = ["Scores", "scores", "f1_by_category", "progressive", "LabelledReport"]


class LabelledReport(NamedTuple):
    text: str
    title: str | None
    label: str


class Scores(NamedTuple):
    reports: int
    accuracy: float
    macro_f1: float


def f1_by_category(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """F1 of each true category over (guess, truth) pairs, rounded to three places."""
    return {category: round(f1, 3) for category, f1 in _f1(list(pairs)).items()}


def _f1(pairs: list[tuple[str, str]]) -> dict[str, float]:
    found = {}
    for category in sorted({truth for _, truth in pairs}):
        hits = sum(1 for guess, truth in pairs if guess == category == truth)
        misses = sum(1 for guess, truth in pairs if (guess == category) != (truth == category))
        found[category] = 2 * hits / (2 * hits + misses) if hits else 0.0
    return found


def scores(pairs: Iterable[tuple[str, str]]) -> Scores:
    pairs = list(pairs)
    if not pairs:
        return Scores(0, 0.0, 0.0)
    accuracy = sum(guess == truth for guess, truth in pairs) / len(pairs)
    return Scores(len(pairs), round(accuracy, 3),
                  round(statistics.mean(_f1(pairs).values()), 3))


def progressive(classifier: Classifier, reports: Iterable[LabelledReport]) -> list[Verdict]:
    """Each report's verdict before it was learnt (the model's guess, however unsure)."""
    verdicts = []
    for report in reports:
        verdicts.append(classifier.guess(report.text, report.title))
        classifier.learn(report.text, report.label, report.title)
    return verdicts
