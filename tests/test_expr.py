"""The expression language: what it computes, and what it refuses to compile."""
from __future__ import annotations

import pytest

from engine.events import Event, Location
from engine.expr import ExpressionError, compile_expression

EVENT = Event("reading", "r1", 0, value=0.3, text="3栋楼道漏水，有煤气味", type="water_level",
              location=Location(grid="YZ-03-07", building="B12"),
              attrs={"alarm_limit": 25, "floor": 3})


@pytest.mark.parametrize("source, expected", [
    ("value >= 0.15", True),
    ("value * 2 > 0.5 and not (value > 1)", True),
    ("(value + 0.1) / 2 == 0.2", True),
    ("attrs.floor % 2 == 1", True),
    ("location.grid in ['YZ-03-07', 'YZ-03-08']", True),
    ("type not in ['gas', 'smoke']", True),
    ("'漏水' in text", True),
    ("contains(text, \"煤气\") or contains(text, \"燃气味\")", True),
    ("matches(text, '[0-9]+栋')", True),
    ("lower('ABC') == 'abc'", True),
    ("exists(attrs.floor) and not exists(attrs.missing)", True),
    ("abs(-2) == 2 and round(2.6) == 3 and min(1, 2) == 1 and max(1, 2) == 2", True),
    ("value > 0.5 * attrs.alarm_limit", False),
    ("-value < 0", True),
    ("true and not false", True),
    ("attrs.missing == null", True),
])
def test_expression_value(source, expected):
    assert compile_expression(source).test(EVENT, ()) is expected


@pytest.mark.parametrize("source", [
    "value > 1",                      # missing field
    "attrs.nothing.deeper > 1",
    "value / attrs.zero > 1",
    "text > 1",                       # text compared with a number
    "location.grid == 'G'",           # no location at all
    "not (value > 1)",                # undefined stays undefined under `not`
])
def test_undefined_expression_is_false_not_an_error(source):
    event = Event("report", "t1", 0, text="x", attrs={"zero": 0})
    if "zero" in source:
        event.value = 1.0
    assert compile_expression(source).test(event, ()) is False


@pytest.mark.parametrize("source, fragment", [
    ("__import__('os')", "unknown function '__import__'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("value.__class__", "'__class__' is not a field name"),
    ("_secret > 1", "'_secret' is not a field name"),
    ("lambda: 1", "unknown field 'lambda'"),
    ("value > 1: 2", "unexpected ':'"),
    ("[value for value in text]", "expected ], found 'for'"),
    ("value[0]", "unexpected '['"),
    ("text.lower()", "'text' has no fields"),
    ("value if text else type", "unexpected 'if'"),
    ("1 < value < 2", "chained comparisons are not supported"),
    ("value > 10m", "a duration (10m) is only allowed as a window function's argument"),
    ("count(10)", "count() needs a duration"),
    ("count(999999w) > 1", "duration '999999w' is longer than a year"),
    ("avg(value)", "avg() takes a field and a duration"),
    ("avg_count(1h)", "avg_count() needs a reference period"),
    ("avg_count(1h, over 1h)", "at least twice the window"),
    ("contains(text)", "contains() takes 2 arguments, got 1"),
    ("exists(1)", "exists() takes a field"),
    ("matches(text, lower(text))", "matches() needs a string literal"),
    ("value @ 2", "unexpected character '@'"),
    ("'unterminated", "unexpected character"),
    ("", "empty expression"),
    ("value >", "expected a value"),
    ("avg(count(1h), 1h) > 1", "window function count() is not allowed here"),
    ("valeu > 1", "unknown field 'valeu'"),
    ("location.floor > 1", "unknown field 'location.floor': a location has district"),
    ("value.x > 1", "'value' has no fields"),
])
def test_expression_outside_the_language_is_refused(source, fragment):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert fragment in str(caught.value)


def test_window_calls_are_listed_once_and_shared():
    windows = []
    compile_expression("count(1h) >= 3", windows=windows)
    compile_expression("count(1h) >= 5 and avg(value, 10m) > 1", windows=windows)
    assert [(w.function, w.argument, w.duration_ms) for w in windows] == [
        ("count", None, 3_600_000), ("avg", "value", 600_000)]
