r"""What a rule pack says about reading reports: the categories operators use, and how reports
are read (the `categories:` and `reports:` sections of a rule file, `rules/categories.yaml`).

```yaml
categories:
  - id: water_leak
    title: {zh: 漏水, en: Water leak}
    match: ["(楼道|天花板|屋顶).{0,8}(漏水|渗水|滴水)"]   # RE2 patterns: a match decides
    keywords: [漏水, 渗水, 水管, 滴水]                     # what the model starts knowing
reports:
  unclassified_below: 0.6     # a model's guess less sure than this waits for an operator
  places: [较场口社区]          # words of their own for the segmenter
  duplicates: {similarity: 0.5, within: 3d, by: building}
  hotspots: {by: community, similarity: 0.3, within: 28d}
```

A category's `match` patterns are rules: the first category (in pack order) with a pattern found
in a report's text decides, with full confidence. Its `keywords` are what the online classifier
knows before any report is labelled: they count as one labelled report of the category. Reports
a pattern does not decide are the model's.

>>> from engine.yamlpos import load
>>> errors = []
>>> reading = read_sections(load('''
... categories:
...   - id: water_leak
...     match: ["漏水"]
...   - {id: gas, match: ["(煤气|燃气"]}
... reports: {unclassified_below: 1.5}
... ''', "c.yaml"), lambda line, message: errors.append(f"c.yaml:{line}: {message}"))
>>> print("\n".join(errors))
c.yaml:5: category "gas": invalid pattern '(煤气|燃气': missing ): (煤气|燃气
c.yaml:6: reports: unclassified_below is a confidence between 0 and 1, not 1.5
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import re2

from engine.durations import parse_duration
from engine.events import AREA_LEVELS
from engine.suggest import hint
from engine.yamlpos import LocatedDict, LocatedList

__all__ = ["CategorySpec", "Reading", "Duplicates", "Hotspots", "read_sections", "merge",
           "UNCLASSIFIED", "MAX_CATEGORIES", "MAX_PACK_KEYWORDS"]

UNCLASSIFIED = "unclassified"     # the category of a report no rule decided, nor the model
_CATEGORY_KEYS = ("id", "title", "match", "keywords")
_READING_KEYS = ("unclassified_below", "places", "duplicates", "hotspots")
_DUPLICATE_KEYS = ("similarity", "within", "by")
_HOTSPOT_KEYS = ("by", "similarity", "within")
_MAX_PATTERNS = 200
_MAX_KEYWORDS = 2_000
# A pack's whole taxonomy: far beyond any city's, far below what would take a worker seconds
# to learn at every start (each keyword is segmented and learnt).
MAX_CATEGORIES = 1_000
MAX_PACK_KEYWORDS = 20_000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False

Report = Callable[[int, str], None]    # (line, message)


@dataclass(frozen=True)
class CategorySpec:
    id: str
    file: str
    line: int
    title: dict[str, str] = field(default_factory=dict)
    patterns: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Duplicates:
    """Reports this alike (the overlap of their character pairs), in one place (`by`), within
    `within_ms` of the problem's latest report, are one problem."""

    similarity: float = 0.5
    within_ms: int = 3 * 86_400_000
    by: str = "building"


@dataclass(frozen=True)
class Hotspots:
    """Reports of one area (`by`) whose words are this alike (cosine) are one topic; a topic
    lives while reports join it within `within_ms`. Whether a topic is hot is a rule's
    decision (a count far above its usual level, `rules/reports.yaml`)."""

    by: str = "community"
    similarity: float = 0.3
    within_ms: int = 28 * 86_400_000


@dataclass(frozen=True)
class Reading:
    categories: tuple[CategorySpec, ...] = ()
    unclassified_below: float = 0.6
    places: tuple[str, ...] = ()
    duplicates: Duplicates = Duplicates()
    hotspots: Hotspots = Hotspots()
    settings_file: str | None = None      # the file whose `reports:` section this is


def read_sections(document: LocatedDict, report: Report, filename: str = "") -> Reading:
    """The `categories:` and `reports:` sections of one rule file; problems go to `report`."""
    categories = _categories(document.get("categories"), document.line_of("categories"),
                             report, filename)
    settings = document.get("reports")
    if settings is None:
        return Reading(categories=categories)
    return _settings(settings, document.line_of("reports"), report, categories, filename)


def merge(readings: Iterable[Reading], report: Callable[[str, int, str], None]) -> Reading:
    """One pack's reading: every file's categories (an id defined twice is an error) and the
    one `reports:` section (two are an error)."""
    categories: dict[str, CategorySpec] = {}
    chosen = Reading()
    keywords = 0
    for reading in readings:
        for category in reading.categories:
            first = categories.get(category.id)
            if first is not None:
                report(category.file, category.line, f"category {category.id!r} is defined "
                       f"twice (first at {first.file}:{first.line})")
                continue
            keywords += len(category.keywords)
            if len(categories) == MAX_CATEGORIES or keywords > MAX_PACK_KEYWORDS:
                report(category.file, category.line, f"more than {MAX_CATEGORIES:,} categories "
                       f"or {MAX_PACK_KEYWORDS:,} keywords in the pack")
                return Reading(tuple(categories.values()))
            categories[category.id] = category
        if reading.settings_file is not None:
            if chosen.settings_file is not None:
                report(reading.settings_file, 1, "a `reports:` section is already in "
                       f"{chosen.settings_file}: a pack has one")
                continue
            chosen = reading
    return Reading(tuple(categories.values()), chosen.unclassified_below, chosen.places,
                   chosen.duplicates, chosen.hotspots, chosen.settings_file)


def _categories(node: Any, line: int, report: Report, filename: str
                ) -> tuple[CategorySpec, ...]:
    if node is None:
        return ()
    if not isinstance(node, LocatedList):
        report(line, "`categories:` is a list of categories")
        return ()
    found = []
    for index, item in enumerate(node):
        at = node.line_of(index)
        if not isinstance(item, LocatedDict):
            report(at, f"category {index + 1} must be a mapping")
            continue
        category = _category(item, report, filename)
        if category is not None:
            found.append(category)
    return tuple(found)


def _category(item: LocatedDict, report: Report, filename: str) -> CategorySpec | None:
    name = item.get("id")
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or \
            any(char.isspace() for char in name) or name == UNCLASSIFIED:
        report(item.line_of("id"), "a category needs an `id`: a name of at most 100 characters "
                                   f"without spaces (and not {UNCLASSIFIED!r})")
        return None
    errors = []

    def problem(line: int, message: str) -> None:
        errors.append(None)
        report(line, f'category "{name}": {message}')

    for key in item:
        if key not in _CATEGORY_KEYS:
            problem(item.line_of(key), f"unknown key {key!r} ({hint(key, _CATEGORY_KEYS)})")
    title = item.get("title", {})
    if not isinstance(title, dict) or not all(isinstance(v, str) for v in title.values()):
        problem(item.line_of("title"), "`title` maps languages to texts, e.g. {zh: 漏水}")
        title = {}
    patterns = _texts(item, "match", _MAX_PATTERNS, problem)
    for pattern in patterns:
        try:
            re2.compile(pattern, _RE2_OPTIONS)
        except re2.error as error:
            reason = error.args[0].decode() if error.args and isinstance(
                error.args[0], bytes) else str(error)
            problem(item.line_of("match"), f"invalid pattern {pattern!r}: {reason}")
    keywords = _texts(item, "keywords", _MAX_KEYWORDS, problem)
    if not patterns and not keywords:
        problem(item.line, "a category needs `match` patterns or `keywords`")
    if errors:
        return None
    return CategorySpec(name, filename, item.line, dict(title), patterns, keywords)


def _texts(item: LocatedDict, key: str, most: int, problem: Report) -> tuple[str, ...]:
    node = item.get(key, [])
    if not isinstance(node, list) or not all(isinstance(text, str) and text for text in node):
        problem(item.line_of(key), f"`{key}` is a list of texts")
        return ()
    if len(node) > most:
        problem(item.line_of(key), f"`{key}`: at most {most:,}")
        return ()
    return tuple(node)


def _settings(node: Any, line: int, report: Report, categories: tuple[CategorySpec, ...],
              filename: str) -> Reading:
    if not isinstance(node, LocatedDict):
        report(line, "`reports:` is a mapping of settings")
        return Reading(categories=categories)

    def problem(at: int, message: str) -> None:
        report(at, f"reports: {message}")

    for key in node:
        if key not in _READING_KEYS:
            problem(node.line_of(key), f"unknown key {key!r} ({hint(key, _READING_KEYS)})")
    below = node.get("unclassified_below", 0.6)
    if isinstance(below, bool) or not isinstance(below, int | float) or not 0 <= below <= 1:
        problem(node.line_of("unclassified_below"),
                f"unclassified_below is a confidence between 0 and 1, not {below!r}")
        below = 0.6
    places = node.get("places", [])
    if not isinstance(places, list) or not all(isinstance(p, str) and p.strip() for p in places):
        problem(node.line_of("places"), "`places` is a list of place names")
        places = []
    return Reading(categories, float(below), tuple(places),
                   _duplicates(node.get("duplicates"), node.line_of("duplicates"), problem),
                   _hotspots(node.get("hotspots"), node.line_of("hotspots"), problem),
                   settings_file=filename)


def _duration(node: LocatedDict, key: str, default: int, problem: Report) -> int:
    if key not in node:
        return default
    try:
        ms = parse_duration(node[key])
    except ValueError as error:
        problem(node.line_of(key), f"{key}: {error}")
        return default
    if ms <= 0:
        problem(node.line_of(key), f"{key}: a duration must be positive")
        return default
    return ms


def _level(node: LocatedDict, default: str, problem: Report) -> str:
    level = node.get("by", default)
    if level not in AREA_LEVELS:
        problem(node.line_of("by"), f"by: an area level, one of {', '.join(AREA_LEVELS)}; "
                                    f"not {level!r}")
        return default
    return level


def _number(node: LocatedDict, key: str, default: float, low: float, high: float,
            problem: Report) -> float:
    value = node.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        problem(node.line_of(key), f"{key}: a number from {low:g} to {high:g}, not {value!r}")
        return default
    return value


def _section(node: Any, line: int, name: str, keys: tuple[str, ...],
             problem: Report) -> LocatedDict | None:
    """A settings mapping with only the keys it may have; None when absent or not a mapping."""
    if node is None:
        return None
    if not isinstance(node, LocatedDict):
        problem(line, f"`{name}` is a mapping: {', '.join(keys)}")
        return None
    for key in node:
        if key not in keys:
            problem(node.line_of(key), f"{name}: unknown key {key!r} ({hint(key, keys)})")
    return node


def _duplicates(node: Any, line: int, problem: Report) -> Duplicates:
    node = _section(node, line, "duplicates", _DUPLICATE_KEYS, problem)
    if node is None:
        return Duplicates()
    return Duplicates(_number(node, "similarity", Duplicates.similarity, 0.05, 1.0, problem),
                      _duration(node, "within", Duplicates.within_ms, problem),
                      _level(node, "building", problem))


def _hotspots(node: Any, line: int, problem: Report) -> Hotspots:
    node = _section(node, line, "hotspots", _HOTSPOT_KEYS, problem)
    if node is None:
        return Hotspots()
    return Hotspots(_level(node, "community", problem),
                    _number(node, "similarity", Hotspots.similarity, 0.05, 1.0, problem),
                    _duration(node, "within", Hotspots.within_ms, problem))
