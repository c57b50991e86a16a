"""Complement naive Bayes, learning one report at a time.

Each class is scored by how badly the *other* classes' word counts explain the report (Rennie
et al., 2003): with few reports of a class, its complement still has many, so a class learnt
from a handful of examples is not drowned by the big ones, which is what an online classifier
of residents' reports lives with. Counts are kept in a numpy array (feature × class); a report
is scored with one gather over its features. Feature weights are log(1 + count).

How sure a guess is comes from experience, not from the scores: `learn_one` first checks what
it would have said, and keeps, per band of the margin between the two best scores, how often
that was right; `confidence` is that share (with one right and one wrong guess to start with).

>>> model = ComplementNB()
>>> for text, label in [("漏水", "leak"), ("水管漏水", "leak"), ("噪音", "noise"),
...                     ("夜间噪音", "noise")]:
...     model.learn_one({char: 1 for char in text}, label)
>>> model.predict_one({"漏": 1, "水": 1})
'leak'
>>> 0 < model.confidence({"噪": 1, "音": 1})[1] < 1
True
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from itertools import repeat

import numpy as np

__all__ = ["ComplementNB"]

# Bands of the margin between the best two scores per unit of feature weight.
_BANDS = (0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16)


class ComplementNB:
    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.classes: list[str] = []
        self.index: dict[str, int] = {}             # feature -> row
        self.counts = np.zeros((1024, 0))           # feature × class
        self.feature_totals = np.zeros(1024)        # a feature's count over every class
        self.class_totals = np.zeros(0)
        self.seen = 0
        self.right = np.ones(len(_BANDS) + 1)       # per band of margin: guesses right
        self.guessed = np.full(len(_BANDS) + 1, 2.0)  # and made

    def _rows(self, features: Mapping[str, float], grow: bool) -> tuple[np.ndarray, np.ndarray]:
        index = self.index
        if grow:
            for feature in features:
                if feature not in index:
                    index[feature] = len(index)
            if len(index) > self.counts.shape[0]:
                size = max(len(index), 2 * self.counts.shape[0])
                self.counts = np.vstack([self.counts, np.zeros((size - self.counts.shape[0],
                                                                len(self.classes)))])
                self.feature_totals = np.concatenate(
                    [self.feature_totals, np.zeros(size - self.feature_totals.shape[0])])
        rows = np.fromiter(map(index.get, features, repeat(-1)), dtype=np.intp,
                           count=len(features))
        weights = np.log1p(np.fromiter(features.values(), dtype=float, count=len(features)))
        known = rows >= 0            # a feature no class has moves every score alike
        return rows[known], weights[known]

    def _scores(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        vocabulary = len(self.index) + 1
        complement = self.feature_totals[rows, None] - self.counts[rows] + self.alpha
        totals = self.class_totals.sum() - self.class_totals + self.alpha * vocabulary
        return -(weights @ np.log(complement)) + weights.sum() * np.log(totals)

    def _margin(self, scores: np.ndarray, weights: np.ndarray) -> tuple[int, float]:
        if len(scores) < 2:
            return 0, math.inf
        second, best = np.argpartition(scores, -2)[-2:]
        return int(best), float(scores[best] - scores[second]) / max(float(weights.sum()), 1.0)

    def predict_one(self, features: Mapping[str, float]) -> str | None:
        return self.confidence(features)[0]

    def confidence(self, features: Mapping[str, float]) -> tuple[str | None, float]:
        """The class it would choose, and how often a guess with such a margin was right."""
        if not self.classes:
            return None, 0.0
        rows, weights = self._rows(features, grow=False)
        if not len(rows):
            return None, 0.0
        best, margin = self._margin(self._scores(rows, weights), weights)
        band = bisect_right(_BANDS, margin)
        return self.classes[best], float(self.right[band] / self.guessed[band])

    def learn_one(self, features: Mapping[str, float], label: str, weight: float = 1.0,
                  judge: bool = True) -> None:
        """Learn a labelled report (`weight` times); with `judge`, first note whether the guess
        it would have made was right (how the confidence is learnt)."""
        if judge and self.classes:
            rows, weights = self._rows(features, grow=False)
            if len(rows):
                best, margin = self._margin(self._scores(rows, weights), weights)
                band = bisect_right(_BANDS, margin)
                self.guessed[band] += 1
                self.right[band] += self.classes[best] == label
        if label not in self.classes:
            self.classes.append(label)
            self.counts = np.hstack([self.counts, np.zeros((self.counts.shape[0], 1))])
            self.class_totals = np.append(self.class_totals, 0.0)
        column = self.classes.index(label)
        rows, weights = self._rows(features, grow=True)
        weights = weights * weight
        np.add.at(self.counts[:, column], rows, weights)
        np.add.at(self.feature_totals, rows, weights)
        self.class_totals[column] += weights.sum()
        self.seen += 1

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        used = len(self.index)
        state["counts"] = self.counts[:used].copy()      # not the room kept for growth
        state["feature_totals"] = self.feature_totals[:used].copy()
        return state
