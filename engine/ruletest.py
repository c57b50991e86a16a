r"""Rule unit tests: YAML files of input events and the alerts they must raise.

Like `promtool test rules`: a test file names rule files (relative to itself), gives input events,
as compact series or one by one, and lists the alert records expected, each as
`{at, rule, key, severity, status}` with `at` an offset from the test's start. Every record the
rules emit must be expected, and every expected record must be emitted. Event time runs to the
last input event, or to `until` (an offset) when a test waits for timers beyond it.

Series notation, one value per `interval`: `0.1 0.2 0.4x3` is 0.1, 0.2, 0.4, 0.4, 0.4; `1+0.5x4` is
1, 1.5, 2, 2.5; `_` is a step with no event, `_x3` three of them.

>>> expand_series("0.1 0.4x3 _ 1+0.5x3")
[0.1, 0.4, 0.4, 0.4, None, 1.0, 1.5, 2.0]
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.durations import format_duration, parse_duration
from engine.evaluator import Evaluator
from engine.events import Event, EventError, from_dict, parse_timestamp
from engine.pack import Pack
from engine.rulefile import RuleError, RuleFileError
from engine.suggest import hint
from engine.yamlpos import LocatedDict, LocatedList, YamlError, load, plain

__all__ = ["run_file", "CaseResult", "expand_series"]

DEFAULT_START = "2026-07-01T00:00:00+08:00"
_FILE_KEYS = ("rule_files", "start", "interval", "lateness", "tests")
_TEST_KEYS = ("name", "interval", "input", "until", "expect")
_INPUT_KEYS = ("series", "values", "interval", "from", "event", "events")
_EXPECT_KEYS = ("at", "rule", "key", "severity", "status")
_STEP = re.compile(r"(-?[\d.]+(?:e-?\d+)?)(?:([+-])([\d.]+(?:e-?\d+)?))?(?:x(\d+))?")


@dataclass
class CaseResult:
    file: str
    line: int
    name: str
    diff: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diff


def expand_series(text: str) -> list[float | None]:
    values: list[float | None] = []
    for token in str(text).split():
        if token == "_" or token.startswith("_x"):
            values.extend([None] * (int(token[2:]) if token[2:].isdigit() else 1))
            continue
        match = _STEP.fullmatch(token)
        if match is None:
            raise ValueError(f"bad series step {token!r}: expected a number, `_`, `VxN` or "
                             "`A+BxN`")
        first, sign, step, times = match.groups()
        start = float(first)
        count = int(times) if times else 1
        if step is None:
            values.extend([start] * count)
        else:
            delta = float(step) * (1 if sign == "+" else -1)
            values.extend(round(start + delta * i, 10) for i in range(count))
    return values


def run_file(path: str | Path) -> list[CaseResult]:
    """Run every test of one file; `RuleFileError` if the file or its rule files are invalid."""
    path = Path(path)
    file = str(path)
    try:
        document = load(path.read_text(encoding="utf-8"), file)
    except YamlError as error:
        raise RuleFileError([RuleError(file, error.line, error.message)]) from None
    except OSError as error:
        raise RuleFileError([RuleError(file, 1, f"cannot read: {error}")]) from None
    errors: list[RuleError] = []

    def fail(line: int, message: str) -> None:
        errors.append(RuleError(file, line, message))

    if not isinstance(document, LocatedDict):
        raise RuleFileError([RuleError(file, 1, "expected a mapping with rule_files and tests")])
    _unknown(document, _FILE_KEYS, fail)
    rule_files = document.get("rule_files")
    if not isinstance(rule_files, list) or not rule_files:
        fail(document.line_of("rule_files"), "`rule_files` must list the rule files under test")
        raise RuleFileError(errors)
    pack = Pack.load([path.parent / name for name in rule_files])
    start = _start(document, fail)
    interval = _duration(document, "interval", "1m", fail)
    lateness = _duration(document, "lateness", "2m", fail)
    tests = document.get("tests")
    if not isinstance(tests, LocatedList) or not tests:
        fail(document.line_of("tests"), "`tests` must be a list of tests")
        raise RuleFileError(errors)
    prepared = []
    for index, test in enumerate(tests):
        if not isinstance(test, LocatedDict):
            fail(tests.line_of(index), "a test is a mapping with name, input and expect")
            continue
        _unknown(test, _TEST_KEYS, fail)
        test_interval = _duration(test, "interval", None, fail) or interval
        events = _events(test, index, start, test_interval, fail)
        expected = _expected(test, fail)
        until = _duration(test, "until", None, fail)
        prepared.append((test, events, expected, until))
    if errors:
        raise RuleFileError(errors)
    results = []
    for test, events, expected, until in prepared:
        evaluator = Evaluator(pack, lateness_ms=lateness)
        alerts = evaluator.process(events).alerts + evaluator.flush().alerts
        if until:
            alerts += evaluator.advance(start + until + 1).alerts
        actual = sorted(_line(parse_timestamp(a["at"]) - start, a["rule"], a["key"],
                              a["severity"], a["status"])
                        for a in alerts if a["change"] != "updated")   # (more evidence)
        result = CaseResult(file, test.line, str(test.get("name", f"test at line {test.line}")))
        if actual != expected:
            result.diff = list(difflib.unified_diff(expected, actual, "expected", "actual",
                                                    lineterm="", n=2))
        results.append(result)
    return results


def _line(offset_ms: int, rule: str, key: str, severity: str, status: str) -> str:
    return f"{format_duration(offset_ms):>8}  {rule}  {key}  {severity}  {status}"


def _unknown(mapping: LocatedDict, allowed: tuple[str, ...], fail) -> None:
    for key in mapping:
        if key not in allowed:
            fail(mapping.line_of(key), f"unknown key {key!r} ({hint(key, allowed)})")


def _start(document: LocatedDict, fail) -> int:
    try:
        return parse_timestamp(str(document.get("start", DEFAULT_START)))
    except EventError as error:
        fail(document.line_of("start"), f"start: {error.reason}")
        return parse_timestamp(DEFAULT_START)


def _duration(mapping: LocatedDict, name: str, default: str | None, fail) -> int:
    text = mapping.get(name, default)
    if text is None:
        return 0
    try:
        return parse_duration(str(text))
    except ValueError as error:
        fail(mapping.line_of(name), f"{name}: {error}")
        return 0


def _events(test: LocatedDict, index: int, start: int, interval: int,
            fail) -> list[tuple[int, Event]]:
    inputs = test.get("input")
    if not isinstance(inputs, LocatedList):
        fail(test.line_of("input"), "`input` must be a list of series and events")
        return []
    events: list[tuple[int, Event]] = []
    for number, item in enumerate(inputs):
        line = inputs.line_of(number)
        if not isinstance(item, LocatedDict):
            fail(line, "an input is {series: ..., values: ...} or {event: ...} or {events: [...]}")
            continue
        _unknown(item, _INPUT_KEYS, fail)
        if "series" in item:
            template = plain(item["series"])
            if not isinstance(template, dict):
                fail(item.line_of("series"), "`series` is the event every value is put into")
                continue
            try:
                values = expand_series(item.get("values", ""))
            except ValueError as error:
                fail(item.line_of("values"), f"values: {error}")
                continue
            step = _duration(item, "interval", None, fail) or interval
            offset = _duration(item, "from", "0s", fail)
            for position, value in enumerate(values):
                if value is not None:
                    t = start + offset + position * step
                    event = _event(dict(template, id=f"t{index}-s{number}-{position}", ts=t,
                                        value=value), line, fail)
                    if event is None:
                        break
                    events.append((t, event))
        singles = [item["event"]] if "event" in item else item.get("events", [])
        for position, single in enumerate(singles):
            if not isinstance(single, dict) or "at" not in single:
                fail(line, "an event needs `at`, its offset from the test's start (e.g. 10m)")
                continue
            fields = {k: v for k, v in plain(single).items() if k != "at"}
            try:
                t = start + parse_duration(str(single["at"]))
            except ValueError as error:
                fail(line, f"at: {error}")
                continue
            event = _event(dict({"id": f"t{index}-e{number}-{position}"}, **fields, ts=t), line,
                           fail)
            if event is not None:
                events.append((t, event))
    events.sort(key=lambda pair: pair[0])
    return events


def _event(data: dict, line: int, fail) -> Event | None:
    try:
        return from_dict(data)[1]
    except EventError as error:
        fail(line, f"input event is invalid: {error}")
        return None


def _expected(test: LocatedDict, fail) -> list[str]:
    expect = test.get("expect", [])
    if not isinstance(expect, list):
        fail(test.line_of("expect"), "`expect` must be a list of alerts (empty for none)")
        return []
    lines = []
    for number, item in enumerate(expect):
        line = expect.line_of(number) if isinstance(expect, LocatedList) else test.line
        if not isinstance(item, LocatedDict) or any(k not in item for k in _EXPECT_KEYS):
            fail(line, "an expected alert is {at, rule, key, severity, status}")
            continue
        _unknown(item, _EXPECT_KEYS, fail)
        try:
            offset = parse_duration(str(item["at"]))
        except ValueError as error:
            fail(item.line_of("at"), f"at: {error}")
            continue
        if item["status"] not in ("firing", "resolved"):
            fail(item.line_of("status"), "status is firing or resolved")
        lines.append(_line(offset, item["rule"], str(item["key"]), item["severity"],
                           item["status"]))
    return sorted(lines)
