"""The Numenta Anomaly Benchmark's scoring method, reimplemented.

A detector's output for a series is one anomaly score per row; a row is an *alarm* when its score
reaches the threshold. Inside a labelled anomaly window only the first alarm counts, and it earns
more the earlier it comes (a scaled sigmoid of its position); a window without an alarm costs
`A_FN`; an alarm outside every window costs up to `A_FP`, less the closer it follows a window.
The first `min(floor(0.15 n), 750)` rows are a probation period and are not scored. One threshold
per profile serves the whole corpus and is chosen to maximise the summed raw score; the result is
normalised so that never alarming scores 0 and one alarm at the start of every window scores 100.

>>> one = Series("a", [0.0] * 10 + [0.9] + [0.0] * 9, [(10, 13)])
>>> result = score([one], STANDARD)
>>> round(result.score, 1), result.threshold
(100.0, 0.9)

References: Lavin & Ahmad (2015), "Evaluating real-time anomaly detection algorithms - the
Numenta Anomaly Benchmark", arXiv:1510.03336.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import exp

__all__ = ["Profile", "Series", "Result", "score", "score_at", "raw_score", "sigmoid", "PROFILES",
           "STANDARD", "REWARD_LOW_FP", "REWARD_LOW_FN", "probation_rows"]


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


STANDARD = Profile("standard", 1.0, 0.11, 1.0)
REWARD_LOW_FP = Profile("reward_low_FP_rate", 1.0, 0.22, 1.0)
REWARD_LOW_FN = Profile("reward_low_FN_rate", 1.0, 0.11, 2.0)
PROFILES = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


@dataclass(frozen=True)
class Series:
    """One file's scores, row by row, and its anomaly windows as inclusive row ranges."""

    name: str
    scores: list[float]
    windows: list[tuple[int, int]]


@dataclass(frozen=True)
class Result:
    profile: Profile
    threshold: float | None     # None: the best is never to alarm
    raw: float
    score: float                # normalised: 0 = null detector, 100 = perfect


def sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: about +0.987 at -1, 0 at 0, about -0.987 at +1."""
    return 2.0 / (1.0 + exp(5.0 * position)) - 1.0


def probation_rows(length: int) -> int:
    return min(int(0.15 * length), 750)


def raw_score(series: Series, threshold: float, profile: Profile) -> float:
    """The unnormalised score of one series at one threshold (the definition, row by row)."""
    first = probation_rows(len(series.scores))
    alarms = [i for i, s in enumerate(series.scores) if i >= first and s >= threshold]
    values = _row_values(series, profile)
    total = sum(values[i][1] for i in alarms if values[i][0] is None)
    for start, end in series.windows:
        inside = [i for i in alarms if start <= i <= end]
        total += _tp_credit(min(inside), start, end, profile) if inside else -profile.fn
    return total


def _tp_credit(row: int, start: int, end: int, profile: Profile) -> float:
    width = end - start + 1
    return profile.tp * sigmoid(-(end - row + 1) / width) / sigmoid(-1.0)


def _row_values(series: Series, profile: Profile) -> list[tuple[int | None, float]]:
    """Per row: (index of its window, 0.0) inside a window, else (None, cost of an alarm there)."""
    values: list[tuple[int | None, float]] = []
    windows = sorted(series.windows)
    current = 0
    previous: tuple[int, int] | None = None
    for row in range(len(series.scores)):
        while current < len(windows) and windows[current][1] < row:
            previous = windows[current]
            current += 1
        if current < len(windows) and windows[current][0] <= row:
            values.append((current, 0.0))
        elif previous is None:
            values.append((None, -profile.fp))
        else:
            width = previous[1] - previous[0] + 1
            position = (row - previous[1]) / max(width - 1, 1)
            values.append((None, profile.fp * (sigmoid(position) if position <= 3 else -1.0)))
    return values


def score(corpus: list[Series], profile: Profile) -> Result:
    """Best threshold for the corpus and its normalised score.

    Every distinct score is a candidate threshold. Lowering the threshold only adds alarms, and
    an added alarm changes the total by its own false-positive cost or by how much it improves its
    window's first alarm, so one pass over the rows in descending score order evaluates every
    candidate: O(n log n) for the whole corpus.
    """
    windows = [(s, w) for s in range(len(corpus)) for w in range(len(corpus[s].windows))]
    null = -profile.fn * len(windows)
    perfect = profile.tp * len(windows)
    rows: list[tuple[float, int, int]] = []
    costs: list[list[tuple[int | None, float]]] = []
    ordered = [sorted(series.windows) for series in corpus]
    for index, series in enumerate(corpus):
        costs.append(_row_values(series, profile))
        first = probation_rows(len(series.scores))
        rows.extend((s, index, i) for i, s in enumerate(series.scores) if i >= first)
    rows.sort(key=lambda row: -row[0])
    earliest: dict[tuple[int, int], int] = {}
    total = best = null
    best_threshold: float | None = None
    position = 0
    while position < len(rows):
        value = rows[position][0]
        while position < len(rows) and rows[position][0] == value:
            _, index, row = rows[position]
            window, cost = costs[index][row]
            if window is None:
                total += cost
            else:
                start, end = ordered[index][window]
                before = earliest.get((index, window))
                if before is None or row < before:
                    old = -profile.fn if before is None else _tp_credit(before, start, end,
                                                                         profile)
                    earliest[(index, window)] = row
                    total += _tp_credit(row, start, end, profile) - old
            position += 1
        if total > best:
            best, best_threshold = total, value
    normalised = 100.0 * (best - null) / (perfect - null) if perfect != null else 0.0
    return Result(profile, best_threshold, best, normalised)


def score_at(corpus: list[Series], threshold: float, profile: Profile) -> Result:
    """The normalised score of the corpus at a threshold fixed in advance."""
    windows = sum(len(series.windows) for series in corpus)
    null, perfect = -profile.fn * windows, profile.tp * windows
    raw = sum(raw_score(series, threshold, profile) for series in corpus)
    normalised = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return Result(profile, threshold, raw, normalised)
