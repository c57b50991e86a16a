r"""The duty list (`rules/duty.yaml`): routing, grouping, SLA and inhibition for the center.

Loaded with the same strictness and error format as rule files: every problem is collected with
its file and line, and nothing of a file with an error is used.

>>> duty = load_duty('''
... sla:
...   red: {acknowledge: 5m, dispatch: 15m, resolve: 2h}
... grouping: {by: [labels.category, location.building], window: 30m}
... duty:
...   - match: {labels.category: waterlogging}
...     department: 市排水管理处
...     escalate_to: 市应急管理局
... ''', "duty.yaml")
>>> alert = {"severity": "red", "labels": {"category": "waterlogging"},
...          "location": {"building": "B7"}}
>>> duty.route(alert).department
'市排水管理处'
>>> duty.deadlines("red", 0)
{'acknowledge': 300000, 'dispatch': 900000, 'resolve': 7200000}
>>> duty.group_key(alert)
'waterlogging\x1fB7'
>>> try:
...     load_duty("duty:\n  - match: {labels.category: gas}\n    departmnt: x\n", "duty.yaml")
... except RuleFileError as error:
...     print(error)
duty.yaml:3: route 1: unknown key 'departmnt' (did you mean 'department'?)
duty.yaml:2: route 1: a route needs a `department`
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.durations import parse_duration
from engine.lifecycle import Level
from engine.matchers import check_path, field_of, matches
from engine.roles import PERMISSIONS
from engine.roster import DAY_NAMES, Roster, Shift, parse_clock
from engine.rulefile import RuleError, RuleFileError
from engine.silence import DEFAULT_LIMITS
from engine.suggest import hint
from engine.yamlpos import LocatedDict, LocatedList, YamlError, load

__all__ = ["DutyList", "Route", "Inhibition", "SLA_STEPS", "load_duty", "load_duty_file"]

SLA_STEPS = ("acknowledge", "dispatch", "resolve")
_TOP_KEYS = ("sla", "grouping", "inhibit", "duty", "reminders", "silences", "rosters")
_SHIFT_KEYS = ("days", "date", "from", "to", "handlers")
_DAY_SETS = {"daily": range(7), "weekdays": range(5), "weekends": range(5, 7)}
_ROUTE_KEYS = ("match", "department", "escalate_to")
_INHIBIT_KEYS = ("source", "target", "equal")
_GROUP_SEPARATOR = "\x1f"
_DEFAULT_REMINDER_MS = 900_000
_SILENCING_ROLES = tuple(sorted(PERMISSIONS["silence"]))


@dataclass(frozen=True)
class Route:
    match: dict[str, Any]
    department: str
    escalate_to: str | None = None


@dataclass(frozen=True)
class Inhibition:
    """While an alert matching `source` fires, alerts matching `target` with the same values of
    the `equal` fields are inhibited."""

    source: dict[str, Any]
    target: dict[str, Any]
    equal: tuple[str, ...]


@dataclass
class DutyList:
    sla: dict[str, dict[str, int]] = field(default_factory=dict)
    group_by: tuple[str, ...] = ("labels.category", "location.building")
    group_window_ms: int = 1_800_000
    inhibit: list[Inhibition] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    reminder_ms: int = _DEFAULT_REMINDER_MS
    # severity -> role -> the longest silence it may set (engine.silence)
    silence_limits: dict[str, dict[str, int]] = field(
        default_factory=lambda: {level: dict(roles) for level, roles in DEFAULT_LIMITS.items()})
    rosters: dict[str, Roster] = field(default_factory=dict)    # department -> its shifts
    timezone: str = "Asia/Shanghai"       # the city's, in which rosters are written

    def on_duty(self, department: str | None, at: int) -> tuple[str, ...]:
        """The department's handlers on duty at `at` (ms), in the order they take over; none
        for a department without a roster."""
        roster = self.rosters.get(department or "")
        return roster.on_duty(at, ZoneInfo(self.timezone)) if roster else ()

    def route(self, alert: Mapping[str, Any]) -> Route | None:
        """The first route whose matcher the alert meets (first match wins)."""
        return next((route for route in self.routes if matches(alert, route.match)), None)

    def deadlines(self, severity: str, opened_at: int) -> dict[str, int]:
        """Per SLA step, the instant by which it must be met, counted from the opening."""
        return {step: opened_at + ms for step, ms in self.sla.get(severity, {}).items()}

    def group_key(self, alert: Mapping[str, Any]) -> str:
        """Alerts with the same key (within the window) are one incident."""
        return _GROUP_SEPARATOR.join(str(field_of(alert, path) or "") for path in self.group_by)

    def inhibited(self, alert: Mapping[str, Any], firing: Iterable[Mapping[str, Any]]) -> bool:
        """Whether a firing alert is a cause whose symptoms include this alert."""
        rules = [rule for rule in self.inhibit if matches(alert, rule.target)]
        if not rules:
            return False
        for cause in firing:
            if cause.get("id") == alert.get("id"):
                continue
            for rule in rules:
                if matches(cause, rule.source) and all(
                        field_of(cause, path) == field_of(alert, path) for path in rule.equal):
                    return True
        return False


def load_duty_file(path: str | Path) -> DutyList:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RuleFileError([RuleError(str(path), 1, f"cannot read: {error}")]) from None
    return load_duty(text, str(path))


def load_duty(text: str, filename: str) -> DutyList:
    """Validate a duty list; `RuleFileError` with every problem."""
    try:
        document = load(text, filename)
    except YamlError as error:
        raise RuleFileError([RuleError(filename, error.line, error.message)]) from None
    loader = _DutyLoader(filename)
    duty = loader.document(document)
    if loader.errors:
        raise RuleFileError(loader.errors)
    return duty


class _DutyLoader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[RuleError] = []

    def error(self, line: int, message: str, **where: Any) -> None:
        self.errors.append(RuleError(self.filename, line, message, **where))

    def unknown_keys(self, node: LocatedDict, allowed: tuple[str, ...], **where: Any) -> None:
        for key in node:
            if key not in allowed:
                self.error(node.line_of(key), f"unknown key {key!r} ({hint(key, allowed)})",
                           **where)

    def document(self, document: Any) -> DutyList:
        duty = DutyList()
        if document is None:
            return duty
        if not isinstance(document, LocatedDict):
            self.error(1, "a duty list is a mapping with sla, grouping, inhibit, duty")
            return duty
        self.unknown_keys(document, _TOP_KEYS)
        if "sla" in document:
            duty.sla = self.sla(document["sla"], document.line_of("sla"))
        if "grouping" in document:
            duty.group_by, duty.group_window_ms = self.grouping(
                document["grouping"], document.line_of("grouping"))
        if "reminders" in document:
            duty.reminder_ms = self.duration(document["reminders"], document.line_of("reminders"))
        if "silences" in document:
            duty.silence_limits = self.silence_limits(document["silences"],
                                                      document.line_of("silences"))
        duty.inhibit = [rule for index, node in enumerate(self.items(document, "inhibit"), 1)
                        if (rule := self.inhibition(node, index)) is not None]
        duty.routes = [route for index, node in enumerate(self.items(document, "duty"), 1)
                       if (route := self.route(node, index)) is not None]
        if "rosters" in document:
            duty.rosters = self.rosters(document["rosters"], document.line_of("rosters"))
        return duty

    def rosters(self, node: Any, line: int) -> dict[str, Roster]:
        if not isinstance(node, LocatedDict):
            self.error(line, "`rosters` maps a department to its shifts")
            return {}
        rosters = {}
        for department, shifts in node.items():
            if not isinstance(shifts, LocatedList) or not shifts:
                self.error(node.line_of(department),
                           f"the roster of {department} is a non-empty list of shifts")
                continue
            where = {"what": f"roster {department}, shift"}
            rosters[str(department)] = Roster(tuple(
                shift for index, item in enumerate(shifts, 1)
                if (shift := self.shift(item, index=index, **where)) is not None))
        return rosters

    def shift(self, node: Any, **where: Any) -> Shift | None:
        if not isinstance(node, LocatedDict):
            self.error(getattr(node, "line", 1), "a shift is a mapping", **where)
            return None
        self.unknown_keys(node, _SHIFT_KEYS, **where)
        if ("days" in node) == ("date" in node):
            self.error(node.line, "a shift has `days` (weekly) or a `date` (an override)", **where)
            return None
        days, day = frozenset(), None
        if "days" in node:
            days = self.days(node["days"], node.line_of("days"), **where)
        else:
            day = node["date"]
            if not isinstance(day, date):
                self.error(node.line_of("date"), f"`date` is a day, e.g. 2026-10-01, not {day!r}",
                           **where)
        clock = {}
        for key in ("from", "to"):
            try:
                clock[key] = parse_clock(node.get(key, ""))
            except ValueError as error:
                self.error(node.line_of(key) if key in node else node.line,
                           f"`{key}`: {error}", **where)
        handlers = node.get("handlers")
        if (not isinstance(handlers, LocatedList) or not handlers
                or not all(isinstance(name, str) and name for name in handlers)):
            self.error(node.line_of("handlers") if "handlers" in node else node.line,
                       "`handlers` is a non-empty list of names, the first on duty first",
                       **where)
            return None
        if len(clock) < 2:
            return None
        return Shift(days, day, clock["from"], clock["to"], tuple(handlers))

    def days(self, node: Any, line: int, **where: Any) -> frozenset[int]:
        if isinstance(node, str) and node in _DAY_SETS:
            return frozenset(_DAY_SETS[node])
        names = node if isinstance(node, LocatedList) else [node]
        unknown = [name for name in names if name not in DAY_NAMES]
        if unknown or not names:
            self.error(line, f"`days` is daily, weekdays, weekends or a list of "
                             f"{', '.join(DAY_NAMES)}; not {unknown[0] if unknown else node!r}",
                       **where)
        return frozenset(DAY_NAMES.index(name) for name in names if name in DAY_NAMES)

    def items(self, document: LocatedDict, key: str) -> list:
        node = document.get(key)
        if node is None:
            return []
        if not isinstance(node, LocatedList):
            self.error(document.line_of(key), f"`{key}` is a list")
            return []
        return node

    def duration(self, value: Any, line: int) -> int:
        try:
            ms = parse_duration(value)
        except ValueError as error:
            self.error(line, str(error))
            return 0
        if ms <= 0:
            self.error(line, "a duration must be positive")
        return ms

    def sla(self, node: Any, line: int) -> dict[str, dict[str, int]]:
        if not isinstance(node, LocatedDict):
            self.error(line, "`sla` maps a severity to its deadlines per step")
            return {}
        policy = {}
        for severity, steps in node.items():
            at = node.line_of(severity)
            if severity not in Level.__members__:
                self.error(at, f"unknown severity {severity!r}; one of: "
                           f"{', '.join(Level.__members__)}")
                continue
            if not isinstance(steps, LocatedDict):
                self.error(at, f"sla for {severity} maps steps ({', '.join(SLA_STEPS)}) to "
                           "durations")
                continue
            self.unknown_keys(steps, SLA_STEPS)
            policy[severity] = {step: self.duration(steps[step], steps.line_of(step))
                                for step in SLA_STEPS if step in steps}
        return policy

    def silence_limits(self, node: Any, line: int) -> dict[str, dict[str, int]]:
        """Per severity, the longest silence each role may set; a role not named may not
        silence that severity at all."""
        if not isinstance(node, LocatedDict):
            self.error(line, "`silences` maps a severity to the longest silence per role")
            return {}
        limits: dict[str, dict[str, int]] = {}
        for severity, roles in node.items():
            at = node.line_of(severity)
            if severity not in Level.__members__:
                self.error(at, f"unknown severity {severity!r}; one of: "
                           f"{', '.join(Level.__members__)}")
                continue
            if not isinstance(roles, LocatedDict):
                self.error(at, f"silences for {severity} map roles to durations")
                continue
            self.unknown_keys(roles, _SILENCING_ROLES)
            limits[severity] = {role: self.duration(roles[role], roles.line_of(role))
                                for role in _SILENCING_ROLES if role in roles}
        return limits

    def grouping(self, node: Any, line: int) -> tuple[tuple[str, ...], int]:
        if not isinstance(node, LocatedDict) or "by" not in node or "window" not in node:
            self.error(line, "`grouping` needs `by` (a list of fields) and `window`")
            return DutyList.group_by, DutyList.group_window_ms
        self.unknown_keys(node, ("by", "window"))
        by = node["by"]
        if not isinstance(by, LocatedList) or not by:
            self.error(node.line_of("by"), "`by` is a non-empty list of fields")
            by = []
        return (tuple(self.path(path, node.line_of("by")) for path in by),
                self.duration(node["window"], node.line_of("window")))

    def path(self, path: Any, line: int, **where: Any) -> str:
        try:
            return check_path(str(path))
        except ValueError as error:
            self.error(line, str(error), **where)
            return str(path)

    def matcher(self, node: Any, line: int, name: str, **where: Any) -> dict[str, Any]:
        if not isinstance(node, LocatedDict):
            self.error(line, f"`{name}` maps fields to the values they must equal", **where)
            return {}
        for path in node:
            self.path(path, node.line_of(path), **where)
            if isinstance(node[path], (dict, list)):
                self.error(node.line_of(path), f"the value of {path!r} must be a scalar",
                           **where)
        return dict(node)

    def route(self, node: Any, index: int) -> Route | None:
        where = {"index": index, "what": "route"}
        if not isinstance(node, LocatedDict):
            self.error(getattr(node, "line", 1), "a route is a mapping", **where)
            return None
        self.unknown_keys(node, _ROUTE_KEYS, **where)
        match = self.matcher(node.get("match", {}), node.line_of("match"), "match", **where)
        department = node.get("department")
        if not isinstance(department, str) or not department:
            self.error(node.line, "a route needs a `department`", **where)
            return None
        escalate_to = node.get("escalate_to")
        if escalate_to is not None and not isinstance(escalate_to, str):
            self.error(node.line_of("escalate_to"), "`escalate_to` is a department name", **where)
        return Route(match, department, escalate_to)

    def inhibition(self, node: Any, index: int) -> Inhibition | None:
        where = {"index": index, "what": "inhibit rule"}
        if not isinstance(node, LocatedDict):
            self.error(getattr(node, "line", 1), "an inhibit rule is a mapping", **where)
            return None
        self.unknown_keys(node, _INHIBIT_KEYS, **where)
        if "source" not in node or "target" not in node:
            self.error(node.line, "an inhibit rule needs `source` and `target`", **where)
            return None
        equal = node.get("equal", [])
        if not isinstance(equal, LocatedList):
            self.error(node.line_of("equal"), "`equal` is a list of fields", **where)
            equal = []
        return Inhibition(
            self.matcher(node["source"], node.line_of("source"), "source", **where),
            self.matcher(node["target"], node.line_of("target"), "target", **where),
            tuple(self.path(path, node.line_of("equal"), **where) for path in equal))
