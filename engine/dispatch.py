"""Dispatch: which rules and models an event reaches, through an index over their `match`.

A pack of thousands of rules is mostly variants (one per district, grid or site) of a few dozen,
so an event can pass the `match` of only a few of them. Testing every rule's `match` on every
event would make the cost grow with the pack; the index makes it grow with the rules an event
reaches, as a CEP engine's filter index does. It is a tree built once per pack: each node tests
one field of the event (the field most of the targets below it constrain), follows the branch of
the event's value and the branch of the targets that do not constrain that field, and hands the
event to the targets whose conditions are all met on the way.

Every `match` condition is an equality or a list of values on one field, so every one can be
indexed: `kind`, `type`, `category`, `device_id`, the `location` levels, `attrs.NAME` and the
other fields alike. Two things stay with the target's own test instead: the conditions of a
target whose lists would put it in more than `ENTRY_LIMIT` places in the tree (it is indexed on
as many of its fields as fit, fewest values first), and the steps of a sequence, which is indexed
on its kinds and the fields all of its steps of a kind constrain (the sequence picks the step).

>>> index = Index([[{"kind": {"reading"}, "type": {"water_level"}, "location.grid": {"G1"}}],
...                [{"kind": {"reading"}, "type": {"water_level"}, "location.grid": {"G2"}}],
...                [{"kind": {"reading"}}]])
>>> from engine.events import Event, Location
>>> event = Event("reading", "r1", 0, type="water_level", location=Location(grid="G2"))
>>> index.reached(event)
[1, 2]
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from engine.events import LOCATION_FIELDS, Event
from engine.expr import FIELD_NAMESPACE, field_code
from engine.rulefile import ModelSpec, RuleSpec
from engine.shapes.base import ROUTING_FIELDS, Item, compile_getter

__all__ = ["Index", "ENTRY_LIMIT", "entries_of", "indexed_paths"]

# The most places in the tree one target may take (the product of its indexed lists' lengths).
ENTRY_LIMIT = 64

# Between fields constrained by as many targets, the coarser is tested first.
_PRIORITY = ("kind", "type", "category", *(f"location.{level}" for level in LOCATION_FIELDS),
             "device_id", "source")



def indexed_paths(spec: RuleSpec | ModelSpec, *, scan: bool = False) -> tuple[str, ...]:
    """The `match` fields the index guarantees to a condition, absence or model: its own test
    need only check the others. With `scan`, the index is the one before it covered every field:
    kind, and type or category for a target on one kind."""
    match = spec.match
    if scan:
        kinds = match.get("kind", spec.on)
        routing = ROUTING_FIELDS[kinds[0]] if len(kinds) == 1 else None
        return ("kind", routing) if routing in match else ("kind",)
    return ("kind", *_within_limit({path: values for path, values in match.items()
                                    if path != "kind"}))


def _within_limit(match: Mapping[str, Collection]) -> dict[str, set]:
    """The conditions to index: fewest values first, while the target's places in the tree
    (the product of their lengths) stay within `ENTRY_LIMIT`; always at least one."""
    chosen: dict[str, set] = {}
    places = 1
    for path in sorted(match, key=lambda p: (len(match[p]), _rank(p), p)):
        places *= len(match[path])
        if places > ENTRY_LIMIT and chosen:
            break
        chosen[path] = set(match[path])
    return chosen


def conditions(spec: RuleSpec | ModelSpec, indexed: tuple[str, ...]) -> list[dict[str, set]]:
    """A target's entries in the index: one set of conditions per kind of event it takes."""
    if isinstance(spec, RuleSpec) and spec.sequence:
        entries = []
        for kind in ROUTING_FIELDS:
            steps = [step.match for step in spec.sequence if kind in step.kinds]
            if not steps:
                continue
            # A field every such step constrains narrows the sequence to the union of their
            # values; the steps still test their own conditions.
            shared = {path: {value for match in steps for value in match[path]}
                      for path in steps[0] if path != "kind"
                      and all(path in match for match in steps)}
            entries.append({"kind": {kind}, **_within_limit(shared)})
        return entries
    kinds = spec.match.get("kind", spec.on)
    return [{"kind": {kind}, **{path: set(spec.match[path]) for path in indexed
                                if path != "kind"}} for kind in kinds]


class _Node:
    __slots__ = ("here", "path", "get", "branches", "rest")

    def __init__(self, here: tuple[int, ...], path: str | None,
                 branches: dict[object, _Node], rest: _Node | None) -> None:
        self.here = here                     # the targets whose conditions are all met here
        self.path = path                     # the field this node tests, None at a leaf
        self.get: Callable[[Event], Any] | None = compile_getter((path,)) if path else None
        self.branches = branches             # the event's value -> the targets wanting it
        self.rest = rest                     # the targets that do not constrain `path`


class Index:
    """The targets (by position) each event reaches; see the module docstring.

    `entries[i]` lists target i's conditions, one mapping per alternative (per kind of event):
    the event reaches the target when it meets every condition of one of them. Alternatives of
    one target must exclude each other (they differ in `kind`), so no event reaches a target
    twice.

    An event's way through the tree depends only on its values of the fields the tree tests,
    and a city's events have few combinations of them (kind, type, grid): the targets of each
    combination are remembered, so most events cost one tuple and one dict lookup."""

    def __init__(self, entries: list[list[dict[str, set]]]) -> None:
        self.root = _build([(target, dict(alternative)) for target, alternatives
                            in enumerate(entries) for alternative in alternatives])
        self._work: list[list[Item]] = [[] for _ in entries]
        paths = sorted(_tested(self.root), key=lambda p: (_rank(p), p))
        self._values = _values_of(paths)
        # combination of values -> [the batch it was last used in, its targets, their work lists]
        self._known: dict[tuple, list] = {}
        self._batches = 0

    def split(self, items: list[Item]) -> list[tuple[int, list[Item]]]:
        """Each reached target's share of a time-ordered batch, in order, by target position."""
        values, known, work = self._values, self._known, self._work
        self._batches = batch = self._batches + 1
        used: list[tuple[int, ...]] = []      # the targets of each combination in this batch
        for item in items:
            event = item[3]
            try:
                combination = values(event)
                route = known.get(combination)
            except TypeError:                 # an unhashable value (a list): not remembered
                combination, route = None, None
            if route is None:
                targets = self._route(event)
                route = [0, targets, tuple(work[target] for target in targets)]
                if combination is not None:
                    if len(known) >= _KNOWN_LIMIT:
                        known.clear()
                    known[combination] = route
            if route[0] != batch:
                route[0] = batch
                used.append(route[1])
            for mine in route[2]:
                mine.append(item)
        reached = sorted(set().union(*used)) if len(used) > 1 else (used[0] if used else ())
        shares = [(target, work[target][:]) for target in reached]
        for target in reached:
            work[target].clear()
        return shares

    def _route(self, event: Event) -> tuple[int, ...]:
        reached: list[int] = []
        later = [self.root]
        while later:
            node = later.pop()
            reached.extend(node.here)
            if node.get is None:
                continue
            if node.rest is not None:
                later.append(node.rest)
            try:
                child = node.branches.get(node.get(event))
            except TypeError:                 # an unhashable value (a list) equals no value
                child = None
            if child is not None:
                later.append(child)
        return tuple(sorted(reached))

    def reached(self, event: Event) -> list[int]:
        """The targets one event reaches, by position."""
        return list(self._route(event))

    def nodes(self) -> int:
        """How many nodes the tree has: its memory grows with this, not with the events."""
        count, stack = 0, [self.root]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(child for child in (*node.branches.values(), node.rest) if child)
        return count


_KNOWN_LIMIT = 65_536


def _values_of(paths: list[str]) -> Callable[[Event], tuple]:
    """A function reading an event's values of these fields, as a tuple."""
    parts = "".join(f"{field_code(path.split('.'))}, " for path in paths)
    return eval(f"lambda e: ({parts})", dict(FIELD_NAMESPACE))


def _tested(node: _Node) -> set[str]:
    paths = {node.path} if node.path else set()
    for child in (*node.branches.values(), node.rest):
        if child is not None:
            paths |= _tested(child)
    return paths


def _build(entries: list[tuple[int, dict[str, set]]]) -> _Node:
    here = tuple(target for target, wanted in entries if not wanted)
    open_entries = [(target, wanted) for target, wanted in entries if wanted]
    if not open_entries:
        return _Node(here, None, {}, None)
    counts = Counter(path for _, wanted in open_entries for path in wanted)
    path = min(counts, key=lambda p: (-counts[p], _rank(p), p))
    groups: dict[object, list[tuple[int, dict[str, set]]]] = {}
    rest = []
    for target, wanted in open_entries:
        if path not in wanted:
            rest.append((target, wanted))
            continue
        remaining = {other: values for other, values in wanted.items() if other != path}
        for value in wanted[path]:
            group = groups.setdefault(value, [])
            if not group or group[-1][0] != target:   # 1 and 1.0 are one branch, as they are ==
                group.append((target, remaining))
    branches = {value: _build(group) for value, group in groups.items()}
    return _Node(here, path, branches, _build(rest) if rest else None)


def _rank(path: str) -> int:
    return _PRIORITY.index(path) if path in _PRIORITY else len(_PRIORITY)


def entries_of(targets: Iterable[RuleSpec | ModelSpec], *, scan: bool = False
               ) -> list[list[dict[str, set]]]:
    """The index entries of a pack's targets, in order."""
    return [conditions(spec, indexed_paths(spec, scan=scan)) for spec in targets]

