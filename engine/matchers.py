"""Matchers: which alerts a duty route, an inhibition or a silence applies to.

A matcher maps a field path to the value it must equal. Paths are `rule`, `severity`, `key`,
`labels.<name>` and `location.<level>`; every listed field must be equal (an empty matcher matches
every alert).

>>> alert = {"rule": "waterlogging.level.high", "severity": "red",
...          "labels": {"category": "waterlogging"}, "location": {"district": "渝中区"}}
>>> matches(alert, {"labels.category": "waterlogging", "location.district": "渝中区"})
True
>>> matches(alert, {"location.building": "B1"})
False
>>> check_path("labels")
Traceback (most recent call last):
    ...
ValueError: unknown field 'labels'; fields are rule, severity, key, labels.<name>, location.<level>
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.events import LOCATION_FIELDS

__all__ = ["field_of", "matches", "check_path"]

_TOP = ("rule", "severity", "key")


def check_path(path: str) -> str:
    """The path if alerts have such a field; ValueError naming the fields otherwise."""
    head, _, name = path.partition(".")
    if (path in _TOP or (head == "labels" and name)
            or (head == "location" and name in LOCATION_FIELDS)):
        return path
    raise ValueError(f"unknown field {path!r}; fields are rule, severity, key, labels.<name>, "
                     "location.<level>")


def field_of(alert: Mapping[str, Any], path: str) -> Any:
    """The alert's value at a field path, None where it has none."""
    head, _, name = path.partition(".")
    if not name:
        return alert.get(head)
    return (alert.get(head) or {}).get(name)


def matches(alert: Mapping[str, Any], matcher: Mapping[str, Any]) -> bool:
    return all(field_of(alert, path) == value for path, value in matcher.items())
