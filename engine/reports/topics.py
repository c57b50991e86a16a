"""What an area's residents are talking about: reports grouped into topics by their words.

A topic is a bag of words (the words of two characters or more of its reports, the
`MAX_TERMS` heaviest kept). A word weighs its count times its rarity among all the reports
seen so far (smoothed inverse document frequency, learnt online): "小区", "我们", "问题" are
in every other report and say little; "搅拌站" and "丽发新城" say what the topic is. A report joins
the topic of its area whose words are most like its own (cosine similarity at least
`similarity`), or starts one; a topic no report joined for `within_ms` is forgotten. A topic's
name is the three heaviest words of its first report, and it does not change: rules count
reports per (area, topic), and a hotspot is such a count far above its usual level
(`rules/problems.yaml`).

>>> from collections import Counter
>>> topics = Topics(similarity=0.3, within_ms=30 * 86_400_000)
>>> topics.assign(0, "A3区", Counter({"噪音": 2, "工地": 1, "夜间": 1}))
'噪音 工地 夜间'
>>> topics.assign(1, "A3区", Counter({"工地": 1, "噪音": 1, "施工": 1}))
'噪音 工地 夜间'
>>> topics.assign(2, "A3区", Counter({"学校": 1, "收费": 2}))
'收费 学校'
>>> topics.assign(3, "A5区", Counter({"噪音": 1, "工地": 1, "渣土": 1}))   # another area
'渣土 噪音 工地'
"""
from __future__ import annotations

import math
from collections import Counter, OrderedDict

__all__ = ["Topics"]

MAX_TERMS = 40
PER_AREA = 300
AREAS = 5_000
VOCABULARY = 200_000      # words whose rarity is tracked; new words beyond count as rare


class _Topic:
    __slots__ = ("name", "terms", "norm", "latest", "size")

    def __init__(self, name: str, terms: Counter, latest: int) -> None:
        self.name, self.latest, self.size = name, latest, 0
        self.terms: Counter = Counter()
        self.norm = 0.0
        self.add(terms, latest)

    def add(self, terms: Counter, t: int) -> None:
        self.terms.update(terms)
        if len(self.terms) > MAX_TERMS:
            self.terms = Counter(dict(self.terms.most_common(MAX_TERMS)))
        self.norm = math.sqrt(sum(count * count for count in self.terms.values()))
        self.latest = max(self.latest, t)
        self.size += 1

    def similarity(self, terms: Counter, norm: float) -> float:
        mine = self.terms
        dot = sum(count * mine[term] for term, count in terms.items() if term in mine)
        return dot / (norm * self.norm) if dot else 0.0

    def __getstate__(self) -> tuple:
        return self.name, self.terms, self.norm, self.latest, self.size

    def __setstate__(self, state: tuple) -> None:
        self.name, self.terms, self.norm, self.latest, self.size = state


class Topics:
    def __init__(self, similarity: float = 0.3, within_ms: int = 28 * 86_400_000) -> None:
        self.similarity = similarity
        self.within_ms = within_ms
        self.areas: OrderedDict[str, list[_Topic]] = OrderedDict()
        self.reports = 0
        self.documents: Counter = Counter()     # word -> reports it was in

    def weigh(self, words: Counter) -> Counter:
        """A report's words weighed by their rarity (and counted for the next reports)."""
        self.reports += 1
        documents = self.documents
        for word in words:
            if word in documents or len(documents) < VOCABULARY:
                documents[word] += 1
        total = self.reports + 1
        return Counter({word: count * (1 + math.log(total / (1 + documents[word])))
                        for word, count in words.items()})

    def assign(self, t: int, area: str | None, words: Counter) -> str | None:
        """The name of the topic a report of `area` with these words joins (None when it has
        no words or no area)."""
        if area is None or not words:
            return None
        terms = self.weigh(words)
        known = self.areas.get(area)
        if known is None:
            known = self.areas[area] = []
            if len(self.areas) > AREAS:
                self.areas.popitem(last=False)
        else:
            self.areas.move_to_end(area)
        known[:] = [topic for topic in known if t - topic.latest <= self.within_ms]
        norm = math.sqrt(sum(count * count for count in terms.values()))
        best, best_similarity = None, self.similarity
        for topic in known:
            similarity = topic.similarity(terms, norm)
            if similarity >= best_similarity:
                best, best_similarity = topic, similarity
        if best is None:
            name = " ".join(term for term, _ in terms.most_common(3))
            best = _Topic(name, terms, t)
            known.append(best)
            if len(known) > PER_AREA:
                known.remove(min(known, key=lambda topic: topic.latest))
        else:
            best.add(terms, t)
        return best.name

    def of(self, area: str) -> list[tuple[str, int, list[str]]]:
        """An area's topics: name, reports, and the heaviest words now."""
        return [(topic.name, topic.size, [term for term, _ in topic.terms.most_common(5)])
                for topic in self.areas.get(area, [])]
