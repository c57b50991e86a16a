"""A report's category: a rule's, the model's, or none yet (the unclassified queue).

A report that came with a category keeps it (source `producer`, see `engine.reports.reader`).
Otherwise a text an operator already classified gets the operator's category (source
`operator`); else the first category whose `match` pattern is in the text decides (source
`rule`, confidence 1); else the online model guesses, and a guess less sure than
`unclassified_below` is no guess: the report is `unclassified` and waits for an operator. Every
category an operator gives (a correction, or the category of an unclassified report) is learnt
(`learn`): by the model, for texts like it, and as such for the same text.

>>> from engine.reports.categories import CategorySpec, Reading
>>> reading = Reading(categories=(
...     CategorySpec("elevator", "c.yaml", 1, patterns=("电梯.{0,4}困",), keywords=("电梯",)),
...     CategorySpec("water_leak", "c.yaml", 2, keywords=("漏水", "渗水", "滴水"))),
...     unclassified_below=0.5)
>>> classifier = Classifier(reading)
>>> classifier.classify("5栋电梯里困了人")
Verdict(category='elevator', confidence=1.0, source='rule')
>>> classifier.classify("楼下小卖部太吵").category
'unclassified'
>>> classifier.learn("楼下小卖部太吵", "noise")
>>> classifier.classify("楼下小卖部太吵！")
Verdict(category='noise', confidence=1.0, source='operator')
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import re2

from engine.reports.bayes import ComplementNB
from engine.reports.categories import UNCLASSIFIED, Reading
from engine.reports.text import Words, clean

__all__ = ["Classifier", "Verdict"]

_KEYWORD_WEIGHT = 10      # the keywords of a category count as this many of its words
_CORRECTIONS_KEPT = 20_000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class Verdict(NamedTuple):
    category: str
    confidence: float
    source: str              # producer, operator, rule, model; none for unclassified


class Classifier:
    def __init__(self, reading: Reading, model: ComplementNB | None = None,
                 seeded: frozenset[str] = frozenset(),
                 corrected: OrderedDict[str, str] | None = None) -> None:
        self.reading = reading
        self.words = Words(reading.places)
        self.rules = [(category.id, re2.compile("|".join(f"(?:{p})" for p in category.patterns),
                                                _RE2_OPTIONS).search)
                      for category in reading.categories if category.patterns]
        self.model = model if model is not None else ComplementNB()
        self._last: tuple[tuple[str, str | None] | None, dict[str, int]] = (None, {})
        self.seeded = set(seeded)     # categories whose keywords the model has learnt
        # the operators' category of each text they classified (its letters, digits and
        # punctuation aside), the most recent kept
        self.corrected: OrderedDict[str, str] = corrected if corrected is not None \
            else OrderedDict()
        for category in reading.categories:
            if category.keywords and category.id not in self.seeded:
                seed: dict[str, float] = {}
                for keyword in category.keywords:
                    for feature in self.words.features(keyword):
                        seed[feature] = _KEYWORD_WEIGHT
                self.model.learn_one(seed, category.id, judge=False)
                self.seeded.add(category.id)

    def adopt(self, reading: Reading) -> Classifier:
        """The classifier of a new rule pack: what this one learnt stays (operators' corrections
        are not lost to a rule push); the keywords of categories new to it are learnt."""
        return Classifier(reading, self.model, frozenset(self.seeded), self.corrected)

    def classify(self, text: str, title: str | None = None) -> Verdict:
        verdict = self.guess(text, title)
        if verdict.confidence < self.reading.unclassified_below:
            return Verdict(UNCLASSIFIED, verdict.confidence, "none")
        return verdict

    def guess(self, text: str, title: str | None = None) -> Verdict:
        """The operator's, or the rule's category, or the model's best guess however unsure."""
        corrected = self.corrected.get(_said(text, title))
        if corrected is not None:
            return Verdict(corrected, 1.0, "operator")
        for category, search in self.rules:
            if search(text) is not None or (title and search(title) is not None):
                return Verdict(category, 1.0, "rule")
        category, confidence = self.model.confidence(self.features(text, title))
        return Verdict(category or UNCLASSIFIED, round(confidence, 3), "model")

    def learn(self, text: str, category: str, title: str | None = None) -> None:
        """An operator's category for this text (a correction, or an unclassified report's)."""
        if category != UNCLASSIFIED:
            self.model.learn_one(self.features(text, title), category)
            said = _said(text, title)
            self.corrected[said] = category
            self.corrected.move_to_end(said)
            if len(self.corrected) > _CORRECTIONS_KEPT:
                self.corrected.popitem(last=False)

    def features(self, text: str, title: str | None) -> dict[str, int]:
        # A report learnt just after it was classified is not read twice.
        if self._last[0] != (text, title):
            self._last = ((text, title), self.words.features(text, title))
        return self._last[1]


def _said(text: str, title: str | None) -> str:
    return "".join(clean(f"{title or ''} {text}").split())
