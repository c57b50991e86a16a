"""Each report read before the rules see it: its category, the problem it is part of, its topic.

The evaluator hands every report, in event time order, to its partition's `Reader`, which sets
the fields ewe owns on the event:

- `category`, `category_source` and `category_confidence`: what the producer said (source
  `producer`), else the category of the problem the report joins when that one is decided,
  else the classifier's verdict (`rule`, `model`, or `unclassified` with source `none`);
- `problem`: the id of the problem's first report (`engine.reports.problems`);
- `topic`: the topic of its area (`engine.reports.topics`).

Rules then read these like any field: `key: problem` raises one alert per problem,
`match: {category: unclassified}` is the queue of reports waiting for an operator, and a rule
counting `key: [location.community, topic]` finds hotspots.

>>> from engine.events import Event, Location
>>> from engine.reports.categories import CategorySpec, Reading
>>> reader = Reader(Reading(categories=(
...     CategorySpec("water_leak", "c.yaml", 1, patterns=("漏水",)),)))
>>> def report(n, text):
...     return Event("report", f"r{n}", 0, text=text, location=Location(building="3栋"))
>>> first, second = report(1, "3栋楼道漏水"), report(2, "3栋的楼道里一直在漏水，快来人修")
>>> reader.read(0, first); reader.read(60_000, second)
>>> second.problem, second.category, second.category_source
('r1', 'water_leak', 'rule')
>>> third = report(3, "小区门口的路灯坏了")
>>> reader.read(120_000, third)
>>> third.problem, third.category, third.category_source
('r3', 'unclassified', 'none')
"""
from __future__ import annotations

import pickle
from collections import OrderedDict

from engine.events import AREA_LEVELS, Event, Location
from engine.reports.categories import UNCLASSIFIED, Reading
from engine.reports.classifier import Classifier, Verdict
from engine.reports.problems import Problems
from engine.reports.topics import Topics

__all__ = ["Reader"]

_PROBLEMS_KEPT = 50_000      # the categories of recent problems


def _without_places(text: str, location: Location | None) -> str:
    if location is None:
        return text
    for level in AREA_LEVELS:
        name = getattr(location, level)
        if name:
            text = text.replace(name, " ")
    return text


class Reader:
    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.classifier = Classifier(reading)
        self.problems = Problems(reading.duplicates.similarity, reading.duplicates.within_ms)
        self.topics = Topics(reading.hotspots.similarity, reading.hotspots.within_ms)
        self.decided: OrderedDict[str, Verdict] = OrderedDict()   # problem -> its category

    def read(self, t: int, event: Event) -> None:
        """Set the fields ewe owns on a report at event time t."""
        text, location = event.text, event.location
        by = self.reading.duplicates.by
        problem = self.problems.assign(t, event.id, getattr(location, by, None),
                                       _without_places(text, location))
        event.problem = problem
        if event.category is not None:
            verdict = Verdict(event.category, 1.0, "producer")
        else:
            verdict = self.decided.get(problem)
            if verdict is None or verdict.category == UNCLASSIFIED:
                verdict = self.classifier.classify(text)
        if verdict.category != UNCLASSIFIED and problem not in self.decided:
            self.decided[problem] = verdict
            if len(self.decided) > _PROBLEMS_KEPT:
                self.decided.popitem(last=False)
        event.category, event.category_confidence, event.category_source = verdict
        area = getattr(location, self.reading.hotspots.by, None)
        if area is not None:
            event.topic = self.topics.assign(t, area, self.classifier.words.terms(text))

    def learn(self, text: str, category: str) -> None:
        """An operator's category for a report's text: the next such text is classified so."""
        self.classifier.learn(text, category)

    def adopt(self, reading: Reading) -> Reader:
        """The reader of a new rule pack, keeping what this one learnt and remembers (problems
        and topics only while their settings stay the same)."""
        reader = Reader(reading)
        reader.classifier = self.classifier.adopt(reading)
        if reading.duplicates == self.reading.duplicates:
            reader.problems, reader.decided = self.problems, self.decided
        if reading.hotspots == self.reading.hotspots:
            reader.topics = self.topics
        return reader

    def snapshot(self) -> bytes:
        classifier, topics = self.classifier, self.topics
        return pickle.dumps((classifier.model, frozenset(classifier.seeded), classifier.corrected,
                             self.problems.places, topics.areas, topics.reports, topics.documents,
                             self.decided), protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, snapshot: bytes) -> None:
        (model, seeded, corrected, self.problems.places, self.topics.areas, self.topics.reports,
         self.topics.documents, self.decided) = pickle.loads(snapshot)
        self.classifier = Classifier(self.reading, model, seeded, corrected)
