"""The event envelope: decoding and validation of readings and reports.

Every signal that reaches ewe is one JSON object, a *reading* from a device or a *report* from a
resident. It is validated once, at the edge; a bad event gets an `EventError` naming the field and
what is wrong with it, so it can be dead-lettered with that reason instead of vanishing.

Decoding happens in C (msgspec) straight into an `Event` struct, which is about twice as fast as
building dicts and makes field access in rules an attribute lookup. Fields outside the envelope
are not kept: free fields belong in `attrs`. Event time is kept as integer milliseconds since the
Unix epoch beside the event, never inside it:

>>> t, event = decode(b'{"kind":"reading","id":"r1","ts":"2026-07-01T08:00:00+08:00",'
...                   b'"device_id":"wl-017","type":"water_level","value":0.31}')
>>> t, event.value
(1782864000000, 0.31)
>>> decode(b'{"kind":"reading","id":"r1","ts":"2026-07-01T08:00:00","device_id":"d",'
...        b'"type":"x","value":1}')
Traceback (most recent call last):
...
engine.events.EventError: ts: ISO 8601 timestamp needs a UTC offset (e.g. +08:00 or Z)
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from math import isfinite
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

__all__ = ["Event", "Location", "EventError", "decode", "from_dict", "to_dict",
           "parse_timestamp", "format_timestamp", "EVENT_FIELDS", "LOCATION_FIELDS", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "event.schema.json"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Timestamps far outside this range are almost always seconds sent as milliseconds (or the reverse).
_MIN_MS = 946_684_800_000     # 2000-01-01
_MAX_MS = 7_258_118_400_000   # 2200-01-01

_Text = Annotated[str, msgspec.Meta(min_length=1)]


class Location(msgspec.Struct, gc=False, frozen=True, omit_defaults=True):
    """District › street › community › grid › building, and coordinates."""

    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    building: str | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None


class Event(msgspec.Struct, gc=False, omit_defaults=True):
    """A reading (device_id, type, value required) or a report (text required)."""

    kind: Literal["reading", "report"]
    id: _Text
    ts: int | str
    source: str | None = None
    location: Location | None = None
    attrs: dict[str, Any] | None = None
    device_id: _Text | None = None
    type: _Text | None = None
    value: float | None = None
    unit: str | None = None
    channel: str | None = None
    text: _Text | None = None
    category: str | None = None
    reporter: dict[str, Any] | None = None
    # Set by ewe, never by a producer: the anomaly score each model gave this event.
    scores: dict[str, float] | None = None


EVENT_FIELDS = tuple(name for name in Event.__struct_fields__ if name != "scores")
LOCATION_FIELDS = Location.__struct_fields__

_ABSENT = msgspec.Raw(b"null")


class _WireEvent(Event, gc=False, omit_defaults=True):
    """An event as it is decoded: location and attrs stay raw until `decode` looks them up,
    because a device sends the same ones with every reading, and building their objects anew
    for each reading costs more than all the rules together."""

    location: msgspec.Raw = _ABSENT  # type: ignore[assignment]
    attrs: msgspec.Raw = _ABSENT  # type: ignore[assignment]


_DECODER = msgspec.json.Decoder(_WireEvent)


class _Shared:
    """Decoded values by their JSON text, so that equal texts give one shared object.

    Events never mutate their location or attrs, which makes the sharing safe."""

    def __init__(self, field: str, kind: Any) -> None:
        self.field = field
        self.decoder = msgspec.json.Decoder(kind)
        self.values: dict[bytes, Any] = {}

    def add(self, text: bytes) -> Any:
        """Decode a text not seen before, and remember it."""
        try:
            value = self.decoder.decode(text)
        except msgspec.ValidationError as error:
            raise _translate(error, self.field) from None
        if len(self.values) >= 65_536:  # bounded: far fewer places and devices report
            self.values.clear()
        self.values[text] = value
        return value


_shared_location = _Shared("location", Location | None)
_shared_attrs = _Shared("attrs", dict[str, Any] | None)
_known_locations, _known_attrs = _shared_location.values, _shared_attrs.values


class EventError(ValueError):
    """An event that cannot be accepted; `field` names the offending field ("$" for the whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def decode(raw: bytes | str) -> tuple[int, Event]:
    """Parse and validate one JSON event; returns (event time in ms, event)."""
    try:
        event = _DECODER.decode(raw)
    except msgspec.ValidationError as error:
        raise _translate(error) from None
    except msgspec.DecodeError as error:
        raise EventError("$", f"invalid JSON: {error}") from None
    # The lookups inline, a call only for a text not seen before: this runs for every event.
    location, attrs = event.location, event.attrs
    if location is _ABSENT:
        event.location = None
    else:
        text = bytes(location)
        known = _known_locations.get(text, _ABSENT)
        event.location = _shared_location.add(text) if known is _ABSENT else known
    if attrs is _ABSENT:
        event.attrs = None
    else:
        text = bytes(attrs)
        known = _known_attrs.get(text, _ABSENT)
        event.attrs = _shared_attrs.add(text) if known is _ABSENT else known
    return _check(event), event


def from_dict(data: Any) -> tuple[int, Event]:
    """Validate an already-parsed event (a dict, as from YAML or another decoder)."""
    if type(data) is not dict:
        raise EventError("$", f"an event is a JSON object, got {_type_name(data)}")
    try:
        event = msgspec.convert(data, Event)
    except msgspec.ValidationError as error:
        raise _translate(error) from None
    return _check(event), event


def to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data, without the fields it does not have."""
    return msgspec.to_builtins(event)


def _check(event: Event) -> int:
    """What the types cannot say: the fields each kind requires, and the event time."""
    if event.scores is not None:
        raise EventError("scores", "is set by ewe's anomaly models, not by producers")
    if event.kind == "reading":
        if event.device_id is None or event.type is None or event.value is None:
            name = "device_id" if event.device_id is None else (
                "type" if event.type is None else "value")
            raise EventError(name, "missing (expected "
                                   f"{'a number' if name == 'value' else 'a non-empty string'})")
        if not isfinite(event.value):
            raise EventError("value", "must be finite")
    elif event.text is None:
        raise EventError("text", "missing (expected a non-empty string)")
    ts = event.ts
    if type(ts) is int:
        if _MIN_MS <= ts < _MAX_MS:
            return ts
    else:
        cached = _ts_cache.get(ts)
        if cached is not None:
            return cached
    return parse_timestamp(ts)


_ts_cache: dict[str, int] = {}


def parse_timestamp(value: Any, field: str = "ts") -> int:
    """Event time in epoch milliseconds, from ISO 8601 with an offset or from epoch ms."""
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
        _in_range(ms, value, field)
        # Only a checked time is remembered: a cached text skips every check above.
        if len(_ts_cache) >= 65_536:  # bounded: streams repeat recent timestamps, not old ones
            _ts_cache.clear()
        _ts_cache[value] = ms
        return ms
    if type(value) is int:
        return _in_range(value, value, field)
    raise EventError(field, "expected an ISO 8601 string or integer epoch milliseconds, "
                            f"got {_type_name(value)}")


def _in_range(ms: int, value: Any, field: str) -> int:
    if not _MIN_MS <= ms < _MAX_MS:
        raise EventError(field, f"timestamp {value!r} is outside 2000..2200 "
                                "(epoch milliseconds expected, not seconds)")
    return ms


def format_timestamp(ms: int) -> str:
    """ISO 8601 in UTC with millisecond precision, the form of every time ewe emits.

    >>> format_timestamp(1782864000000)
    '2026-07-01T00:00:00.000Z'
    """
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)   # several times faster than datetime's strftime
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{millis:03d}Z")


_TYPE_WORDS = {"float": "a number", "str": "a string", "int | str": "an ISO 8601 string or "
               "integer epoch milliseconds", "object": "an object", "array": "an array",
               "bool": "boolean", "int": "integer", "null": "null", "str | null": "a string",
               "float | null": "a number", "object | null": "an object"}
_VALIDATION = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def _translate(error: msgspec.ValidationError, within: str = "") -> EventError:
    """msgspec's message, in the words and field paths of the envelope."""
    match = _VALIDATION.match(str(error))
    field = (match.group("path") or "").lstrip(".")
    field = ".".join(filter(None, (within, field))) or "$"
    what = match.group("what")
    typed = re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", what)
    missing = re.fullmatch(r"Object missing required field `(\w+)`", what)
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
    if re.fullmatch(r"Expected `float` [<>]= -?[\d.]+", what):
        limit = 90 if field.endswith("lat") else 180
        return EventError(field, f"expected a number in [-{limit}, {limit}]")
    if what == "Number out of range":
        return EventError(field, "must be finite")
    return EventError(field, what[0].lower() + what[1:])


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)
