"""A report's words: what the classifier, the folding of duplicates and the hotspots read.

Chinese has no spaces: a report is read as its single characters and pairs of characters (which
need no dictionary and catch what a segmenter splits wrongly) and as the words jieba finds in
its opening (where residents say what is wrong; segmenting the whole text costs most of the
time and adds little). Place names of the city are words of their own (`places`), so that
"较场口社区" is one word, not three. Digits, Latin letters and punctuation are dropped: house
numbers and the anonymised codes of exports ("A3区") say nothing of the category.

>>> words = Words(places=["较场口社区"])
>>> features = words.features("较场口社区3栋楼道漏水")
>>> features["w:较场口社区"], features["漏水"], features["漏"]
(1, 1, 1)
>>> "3" in features or "w:3" in features
False
>>> words.terms("楼道漏水，楼道又漏水了")
Counter({'楼道': 2, '漏水': 2})
"""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable

__all__ = ["Words", "clean", "shingles"]

_NOISE = re.compile(r"[A-Za-z0-9０-９\s\W_]+")
_OPENING_CHARS = 80       # what jieba reads of a text
_BODY_CHARS = 200         # what the characters are read of
_TITLE_WEIGHT = 4         # a title says in a few words what the text goes on about

_segmenters: dict[tuple[str, ...], object] = {}
_lock = threading.Lock()


def clean(text: str) -> str:
    """The text with digits, Latin letters and punctuation turned into spaces."""
    return _NOISE.sub(" ", text)


def _grams(text: str) -> Counter:
    grams: Counter = Counter()
    for part in text.split():
        grams.update(part)
        grams.update(map(str.__add__, part, part[1:]))
    return grams


def shingles(text: str, size: int = 3) -> set[str]:
    """The runs of `size` characters of the cleaned text (what near-duplicates share)."""
    joined = clean(text).replace(" ", "")
    if len(joined) < size:
        return {joined} if joined else set()
    return {joined[i:i + size] for i in range(len(joined) - size + 1)}


class Words:
    """The features of reports, with the city's place names as words."""

    def __init__(self, places: Iterable[str] = ()) -> None:
        self.places = tuple(sorted(set(places)))

    def _segmenter(self):
        # One jieba dictionary per set of place names, built once (about a second and 70 MB)
        # and shared: every partition of a worker reads with the same words.
        with _lock:
            segmenter = _segmenters.get(self.places)
            if segmenter is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                segmenter = jieba.Tokenizer()
                for place in self.places:
                    segmenter.add_word(place, freq=100_000)
                _segmenters[self.places] = segmenter
        return segmenter

    def segment(self, text: str) -> list[str]:
        return [word for word in self._segmenter().lcut(clean(text), HMM=False)
                if word.strip()]

    def features(self, text: str, title: str | None = None) -> Counter:
        """Characters and pairs of characters of the text's start, and the words of its
        title (or, without one, of its opening), each with its count; a title's count
        more."""
        features = _grams(clean(text[:_BODY_CHARS]))
        if title:
            for gram, count in _grams(clean(title)).items():
                features[gram] += _TITLE_WEIGHT * count
            words, weight = self.segment(title), _TITLE_WEIGHT
        else:
            words, weight = self.segment(text[:_OPENING_CHARS]), 1
        for word in words:
            features["w:" + word] += weight
        return features

    def terms(self, text: str) -> Counter:
        """The words of two characters or more in a text (for the key terms of a hotspot:
        single characters are mostly particles)."""
        return Counter(word for word in self.segment(text[:_BODY_CHARS]) if len(word) > 1)
