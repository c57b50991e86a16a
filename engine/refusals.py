"""Why an event is refused, in the words and field paths of the envelope.

A refusal names every field that is wrong and what is wrong with it, so that whoever sent the
event fixes it in one go; `EventError.field` is the first of them (for counting by field).

>>> error = EventError("ts", "not an ISO 8601 timestamp: 'yesterday'",
...                    (("value", "expected a number, got a string"),))
>>> str(error)
"ts: not an ISO 8601 timestamp: 'yesterday'; value: expected a number, got a string"
"""
from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = ["EventError", "translate", "type_name", "type_words", "check_nesting"]


class EventError(ValueError):
    """An event that cannot be accepted; `field` names the (first) offending field ("$" for the
    whole), `problems` every (field, reason) found."""

    def __init__(self, field: str, reason: str,
                 more: tuple[tuple[str, str], ...] = ()) -> None:
        self.problems = ((field, reason), *more)
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.problems))
        self.field = field
        self.reason = reason


_TYPE_WORDS = {"float": "a number", "str": "a string", "int | str": "an ISO 8601 string or "
               "integer epoch milliseconds", "object": "an object", "array": "an array",
               "bool": "boolean", "int": "integer", "null": "null", "str | null": "a string",
               "float | null": "a number", "object | null": "an object", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "a boolean"}
_VALIDATION = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def translate(error: msgspec.ValidationError, within: str = "") -> EventError:
    """msgspec's message, in the words and field paths of the envelope."""
    match = _VALIDATION.match(str(error))
    field = (match.group("path") or "").lstrip(".")
    field = ".".join(filter(None, (within, field))) or "$"
    what = match.group("what")
    typed = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", what)
    missing = re.fullmatch(r"Object missing required field `(\w+)`", what)
    longest = re.fullmatch(r"Expected `str` of length <= (\d+)", what)
    if typed:
        expected, got = (_TYPE_WORDS.get(name, name) for name in typed.groups())
        if field == "$":
            return EventError(field, f"an event is a JSON object, got {got}")
        return EventError(field, f"expected {expected}, got {got}")
    if missing:
        name = missing.group(1)
        path = f"{field}.{name}" if field != "$" else name
        return EventError(path, 'missing (expected "reading" or "report")' if name == "kind"
                          else "missing")
    if what.startswith("Invalid enum value"):
        return EventError(field, f'expected "reading" or "report", got {what[19:]}')
    if what.startswith("Expected `str` of length >= 1"):
        return EventError(field, "expected a non-empty string, got an empty one")
    if longest:
        return EventError(field, f"expected a string of at most {longest.group(1)} characters")
    if re.fullmatch(r"Expected `float` [<>]= -?[\d.]+", what):
        limit = 90 if field.endswith("lat") else 180
        return EventError(field, f"expected a number in [-{limit}, {limit}]")
    if what == "Number out of range":
        return EventError(field, "must be finite")
    return EventError(field, what[0].lower() + what[1:])


def type_name(value: Any) -> str:
    """The JSON name of a value's type."""
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)


def type_words(value: Any) -> str:
    """The JSON name of a value's type, as a sentence says it ("an array")."""
    return _TYPE_WORDS.get(type_name(value), type_name(value))


def check_nesting(value: Any, field: str, limit: int) -> None:
    """Refuse objects and arrays nested more than `limit` levels deep (without recursion).

    >>> check_nesting({"a": [[1]]}, "attrs", 2)
    Traceback (most recent call last):
    ...
    engine.refusals.EventError: attrs: nested more than 2 levels deep
    """
    level = [value]
    for _ in range(limit + 1):
        level = [item for container in level if isinstance(container, (dict, list))
                 for item in (container.values() if isinstance(container, dict) else container)]
        if not level:
            return
    raise EventError(field, f"nested more than {limit} levels deep")
