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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Event", "EventError", "decode", "validate", "parse_timestamp", "format_timestamp",
           "SCHEMA_PATH"]

Event = dict[str, Any]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "event.schema.json"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
# Timestamps far outside this range are almost always seconds sent as milliseconds (or the reverse).
_MIN_MS = 946_684_800_000     # 2000-01-01
_MAX_MS = 7_258_118_400_000   # 2200-01-01
_LOCATION_TEXT = ("district", "street", "community", "grid", "building")


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
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise EventError("$", f"invalid JSON: {error}") from None
    return validate(event), event


def validate(event: Any) -> int:
    """Check an already-parsed event against the envelope; returns its event time in ms."""
    if type(event) is not dict:
        raise EventError("$", f"an event is a JSON object, got {_type_name(event)}")
    kind = event.get("kind")
    ident = event.get("id")
    if type(ident) is not str or not ident:
        raise EventError("id", _expected("a non-empty string", ident, "id" in event))
    if "ts" not in event:
        raise EventError("ts", "missing")
    t = parse_timestamp(event["ts"])
    if kind == "reading":
        _require_text(event, "device_id")
        _require_text(event, "type")
        value = event.get("value")
        kind_of_value = type(value)
        if kind_of_value is not float and kind_of_value is not int:
            raise EventError("value", _expected("a number", value, "value" in event))
        if kind_of_value is float and not math.isfinite(value):
            raise EventError("value", "must be finite")
    elif kind == "report":
        _require_text(event, "text")
        for name in ("channel", "category"):
            if name in event and type(event[name]) is not str:
                raise EventError(name, _expected("a string", event[name], True))
        reporter = event.get("reporter")
        if reporter is not None and type(reporter) is not dict:
            raise EventError("reporter", _expected("an object", reporter, True))
    else:
        raise EventError("kind", _expected('"reading" or "report"', kind, "kind" in event))
    location = event.get("location")
    if location is not None:
        _check_location(location)
    attrs = event.get("attrs")
    if attrs is not None and type(attrs) is not dict:
        raise EventError("attrs", _expected("an object", attrs, True))
    source = event.get("source")
    if source is not None and type(source) is not str:
        raise EventError("source", _expected("a string", source, True))
    return t


def _check_location(location: Any) -> None:
    if type(location) is not dict:
        raise EventError("location", _expected("an object", location, True))
    for name in _LOCATION_TEXT:
        if name in location and type(location[name]) is not str:
            raise EventError(f"location.{name}", _expected("a string", location[name], True))
    for name, limit in (("lat", 90), ("lon", 180)):
        if name in location:
            coordinate = location[name]
            if type(coordinate) not in (int, float) or not -limit <= coordinate <= limit:
                raise EventError(f"location.{name}", f"expected a number in [-{limit}, {limit}], "
                                                     f"got {coordinate!r}")


def _require_text(event: Event, name: str) -> None:
    value = event.get(name)
    if type(value) is not str or not value:
        raise EventError(name, _expected("a non-empty string", value, name in event))


def _expected(what: str, value: Any, present: bool) -> str:
    if not present:
        return f"missing (expected {what})"
    return f"expected {what}, got {_type_name(value)}" + (
        f" {value!r}" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "")


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)
