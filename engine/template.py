"""Alert texts with fields of the event: `"{location.grid}: water {value:.2f} m at {device_id}"`.

Besides dotted event fields a template may name `{key}`, `{rule}`, `{severity}` and
`{occurrences}`. A field the event lacks renders as `?` rather than failing the alert.

>>> from engine.events import Event, Location
>>> template = Template("{location.grid}: water {value:.2f} m ({severity})")
>>> event = Event("reading", "r1", 0, value=0.314, location=Location(grid="YZ-03-07"))
>>> template.render(event, {"severity": "orange"})
'YZ-03-07: water 0.31 m (orange)'
>>> Template("{value:.2q}")
Traceback (most recent call last):
...
ValueError: bad format '.2q' for {value}
"""
from __future__ import annotations

import re
from string import Formatter
from typing import Any

__all__ = ["Template", "ALERT_FIELDS"]

ALERT_FIELDS = frozenset({"key", "rule", "severity", "occurrences"})
_FIELD = re.compile(r"[A-Za-z][\w]*(?:\.[\w]+)*")
_SAMPLES = (1.5, 1, "text")
_MAX_WIDTH = 100   # a width of a billion would render a gigabyte for every alert


class Template:
    __slots__ = ("source", "_pieces")

    def __init__(self, source: str) -> None:
        self.source = source
        pieces: list[tuple[str, tuple[str, ...] | None, str]] = []
        try:
            parsed = list(Formatter().parse(source))
        except ValueError as error:
            raise ValueError(f"bad template: {error}") from None
        for literal, name, spec, conversion in parsed:
            if name is None:
                pieces.append((literal, None, ""))
                continue
            if conversion or not _FIELD.fullmatch(name):
                raise ValueError(f"bad template field {{{name}}}: write a dotted field name "
                                 "such as {location.grid}, optionally with a format like :.2f")
            # Before trying the format: a width of a billion takes a gigabyte to try.
            if any(len(digits) > 3 or int(digits) > _MAX_WIDTH
                   for digits in re.findall(r"\d+", spec)):
                raise ValueError(f"format {spec!r} for {{{name}}}: widths and precisions "
                                 f"up to {_MAX_WIDTH}")
            if spec and not any(_formats(sample, spec) for sample in _SAMPLES):
                raise ValueError(f"bad format {spec!r} for {{{name}}}")
            pieces.append((literal, tuple(name.split(".")), spec))
        self._pieces = pieces

    @property
    def fields(self) -> list[tuple[str, ...]]:
        """The event fields the template reads (alert fields excluded)."""
        return [path for _, path, _ in self._pieces if path is not None and not (
            len(path) == 1 and path[0] in ALERT_FIELDS)]

    def render(self, event: Any, alert: dict[str, Any]) -> str:
        out = []
        for literal, path, spec in self._pieces:
            out.append(literal)
            if path is None:
                continue
            value = alert.get(path[0]) if len(path) == 1 and path[0] in ALERT_FIELDS else _get(
                event, path)
            if value is None:
                out.append("?")
            elif spec:
                try:
                    out.append(format(value, spec))
                except (ValueError, TypeError):
                    out.append(str(value))
            else:
                out.append(str(value))
        return "".join(out)


def _get(event: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(event, dict):
            event = event.get(part)
        else:
            event = getattr(event, part, None)
        if event is None:
            return None
    return event


def _formats(sample: Any, spec: str) -> bool:
    try:
        format(sample, spec)
        return True
    except (ValueError, TypeError):
        return False
