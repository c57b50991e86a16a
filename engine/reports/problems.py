"""One problem, however many residents report it: near-duplicate reports folded together.

Residents describe one leak in their own words: "3栋楼道漏水" and "3栋的楼道一直在漏水，
快来修". Two reports are the same problem when they come from one place (the `by` level of
their location: a building, a grid), within `within_ms` of the problem's latest report, and
the pairs of characters of their openings overlap enough: the pairs they share, over the pairs
of the shorter one (the overlap coefficient, at least `similarity`). Pairs, not longer runs,
because a reworded sentence keeps few runs of three; the shorter one, because a resident who
writes "楼道漏水" says part of what a neighbour's long message says. The caller leaves the
place names out of the texts: "3栋" in both says nothing of the problem. A report joins the
problem it is most alike to, or starts one of its own: the problem's id is its first report's.
Each place keeps its problems of the last `within_ms`, at most `PER_PLACE` of them, and at most
`PLACES` places are remembered, the least recent forgotten first: a bounded memory whatever
the stream.

>>> problems = Problems(similarity=0.5, within_ms=86_400_000)
>>> problems.assign(0, "r1", "3栋", "楼道漏水")
'r1'
>>> problems.assign(60_000, "r2", "3栋", "的楼道里一直在漏水，快来人修")
'r1'
>>> problems.assign(120_000, "r3", "3栋", "楼道灯坏了")
'r3'
>>> problems.assign(180_000, "r4", "5栋", "楼道漏水")     # another building: another problem
'r4'
>>> problems.assign(2 * 86_400_000, "r5", "3栋", "楼道漏水")   # days later: another one
'r5'
"""
from __future__ import annotations

import zlib
from collections import OrderedDict

import numpy as np

from engine.reports.text import shingles

__all__ = ["Problems", "pairs_of", "overlap"]

PER_PLACE = 32
PLACES = 5_000
_OPENING = 120      # characters: where residents say what is wrong


def pairs_of(text: str) -> np.ndarray:
    """The character pairs of a report's opening, as sorted unique 32-bit codes (a stable
    hash: a checkpoint restored in another process compares the same)."""
    return np.unique(np.fromiter((zlib.crc32(pair.encode()) for pair in
                                  shingles(text[:_OPENING], 2)), dtype=np.uint32))


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The pairs two reports share, over the pairs of the shorter.

    >>> round(overlap(pairs_of("楼道漏水"), pairs_of("楼道里一直在漏水")), 3)
    0.667
    """
    if not a.size or not b.size:
        return 0.0
    return np.intersect1d(a, b, assume_unique=True).size / min(a.size, b.size)


class _Problem:
    __slots__ = ("id", "pairs", "latest")

    def __init__(self, problem_id: str, pairs: np.ndarray, latest: int) -> None:
        self.id, self.pairs, self.latest = problem_id, pairs, latest

    def __getstate__(self) -> tuple:
        return self.id, self.pairs, self.latest

    def __setstate__(self, state: tuple) -> None:
        self.id, self.pairs, self.latest = state


class Problems:
    def __init__(self, similarity: float = 0.5, within_ms: int = 3 * 86_400_000) -> None:
        self.similarity = similarity
        self.within_ms = within_ms
        self.places: OrderedDict[str, list[_Problem]] = OrderedDict()

    def assign(self, t: int, report_id: str, place: str | None, text: str) -> str:
        """The problem a report at event time t belongs to (its own id for a new one)."""
        if place is None:       # nowhere to compare it with: a problem of its own
            return report_id
        pairs = pairs_of(text)
        known = self.places.get(place)
        if known is None:
            known = self.places[place] = []
            if len(self.places) > PLACES:
                self.places.popitem(last=False)
        else:
            self.places.move_to_end(place)
        known[:] = [problem for problem in known if t - problem.latest <= self.within_ms]
        best, best_similarity = None, self.similarity
        for problem in known:
            similarity = overlap(pairs, problem.pairs)
            if similarity >= best_similarity:
                best, best_similarity = problem, similarity
        if best is None:
            best = _Problem(report_id, pairs, t)
            known.append(best)
            if len(known) > PER_PLACE:
                known.remove(min(known, key=lambda problem: problem.latest))
        else:
            best.latest = max(best.latest, t)
        return best.id
