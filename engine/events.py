"""The event envelope: decoding and validation of readings and reports.

Every signal that reaches ewe is one JSON object, a *reading* from a device or a *report* from a
resident. It is validated once, at the edge; a bad event gets an `EventError` naming the field and
what is wrong with it, so it can be dead-lettered with that reason instead of vanishing.

Event time is kept as integer milliseconds since the Unix epoch beside the event, never inside it:

>>> t, event = decode(b'{"kind":"reading","id":"r1","ts":"2026-07-01T08:00:00+08:00",'
...                   b'"device_id":"wl-017","type":"water_level","value":0.31}')
>>> t, event["value"]
(1782864000000, 0.31)
>>> decode(b'{"kind":"reading","id":"r1","ts":"2026-07-01T08:00:00","device_id":"d",'
...        b'"type":"x","value":1}')
Traceback (most recent call last):
...
engine.events.EventError: ts: ISO 8601 timestamp needs a UTC offset (e.g. +08:00 or Z)
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict, Union

import msgspec

__all__ = ["Event", "EventError", "decode", "validate", "parse_timestamp", "format_timestamp",
           "SCHEMA_PATH"]

Event = dict[str, Any]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "event.schema.json"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
# Timestamps far outside this range are almost always seconds sent as milliseconds (or the reverse).
_MIN_MS = 946_684_800_000     # 2000-01-01
_MAX_MS = 7_258_118_400_000   # 2200-01-01


class EventError(ValueError):
    """An event that cannot be accepted; `field` names the offending field ("$" for the whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_ts_cache: dict[str, int] = {}


def parse_timestamp(value: Any, field: str = "ts") -> int:
    """Event time in epoch milliseconds from ISO 8601 with an offset, or integer epoch milliseconds."""
    if type(value) is str:
        cached = _ts_cache.get(value)
        if cached is not None:
            return cached
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise EventError(field, f"not an ISO 8601 timestamp: {value!r}") from None
        if moment.tzinfo is None:
            raise EventError(field, "ISO 8601 timestamp needs a UTC offset (e.g. +08:00 or Z)")
        ms = (moment - _EPOCH) // _MS
        if len(_ts_cache) >= 65_536:  # bounded: streams repeat recent timestamps, not old ones
            _ts_cache.clear()
        _ts_cache[value] = ms
    elif type(value) is int:
        ms = value
    else:
        raise EventError(field, "expected an ISO 8601 string or integer epoch milliseconds, "
                                f"got {_type_name(value)}")
    if not _MIN_MS <= ms < _MAX_MS:
        raise EventError(field, f"timestamp {value!r} is outside 2000..2200 "
                                "(epoch milliseconds expected, not seconds)")
    return ms


def format_timestamp(ms: int) -> str:
    """ISO 8601 in UTC with millisecond precision, the form of every time ewe emits.

    >>> format_timestamp(1782864000000)
    '2026-07-01T00:00:00.000Z'
    """
    return (_EPOCH + ms * _MS).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def decode(raw: bytes | str) -> tuple[int, Event]:
    """Parse and validate one JSON event; returns (event time in ms, event)."""
    try:
        event = _DECODER.decode(raw)
    except msgspec.ValidationError as error:
        raise _translate(error) from None
    except msgspec.DecodeError as error:
        raise EventError("$", f"invalid JSON: {error}") from None
    return _check(event), event


def validate(event: Any) -> int:
    """Check an already-parsed event against the envelope; returns its event time in ms."""
    if type(event) is not dict:
        raise EventError("$", f"an event is a JSON object, got {_type_name(event)}")
    try:
        msgspec.convert(event, _Envelope)
    except msgspec.ValidationError as error:
        raise _translate(error) from None
    if "value" in event and type(event["value"]) is float and not math.isfinite(event["value"]):
        raise EventError("value", "must be finite")
    return _check(event)


_Text = Annotated[str, msgspec.Meta(min_length=1)]


class _Location(TypedDict, total=False):
    district: str
    street: str
    community: str
    grid: str
    building: str
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class _Envelope(TypedDict, total=False):
    """Types of every envelope field; which are required depends on `kind` (see `_check`)."""

    kind: Literal["reading", "report"]
    id: _Text
    ts: Union[str, int]
    source: str
    location: _Location
    attrs: dict[str, Any]
    device_id: _Text
    type: _Text
    value: float
    unit: str
    channel: str
    text: _Text
    category: str
    reporter: dict[str, Any]


# Decoding and type checks happen in C; fields outside the envelope are not kept (free
# fields belong in `attrs`).
_DECODER = msgspec.json.Decoder(_Envelope)
_REQUIRED = {"reading": ("device_id", "type", "value"), "report": ("text",)}
_TYPE_WORDS = {"float": "a number", "str": "a string", "int | str": "an ISO 8601 string or "
               "integer epoch milliseconds", "object": "an object", "array": "an array",
               "bool": "boolean", "int": "integer", "null": "null"}
_VALIDATION = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def _check(event: Event) -> int:
    kind = event.get("kind")
    required = _REQUIRED.get(kind)
    if required is None:
        raise EventError("kind", 'missing (expected "reading" or "report")')
    if "id" not in event:
        raise EventError("id", "missing (expected a non-empty string)")
    for name in required:
        if name not in event:
            raise EventError(name, "missing (expected "
                                   f"{'a number' if name == 'value' else 'a non-empty string'})")
    if "ts" not in event:
        raise EventError("ts", "missing")
    return parse_timestamp(event["ts"])


def _translate(error: msgspec.ValidationError) -> EventError:
    match = _VALIDATION.match(str(error))
    field = (match.group("path") or "").lstrip(".") or "$"
    what = match.group("what")
    typed = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", what)
    if typed:
        expected, got = typed.groups()
        if field == "$":
            return EventError(field, f"an event is a JSON object, got {_TYPE_WORDS.get(got, got)}")
        return EventError(field, f"expected {_TYPE_WORDS.get(expected, expected)}, got "
                                 f"{_TYPE_WORDS.get(got, got)}")
    if what.startswith("Invalid enum value"):
        return EventError(field, f'expected "reading" or "report", got {what[19:]}')
    if what.startswith("Expected `str` of length >= 1"):
        return EventError(field, "expected a non-empty string, got an empty one")
    bounds = re.fullmatch(r"Expected `float` ([<>]=) (-?[\d.]+)", what)
    if bounds:
        limit = 90 if field.endswith("lat") else 180
        return EventError(field, f"expected a number in [-{limit}, {limit}]")
    if what == "Number out of range":
        return EventError(field, "must be finite")
    return EventError(field, what[0].lower() + what[1:])


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)
