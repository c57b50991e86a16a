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
engine.refusals.EventError: ts: ISO 8601 timestamp needs a UTC offset (e.g. +08:00 or Z)
"""
from __future__ import annotations

from math import isfinite
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from engine.privacy import Contact, mask_text
from engine.refusals import EventError, check_nesting, translate, type_name, type_words
from engine.timestamps import MAX_MS, MIN_MS, format_timestamp, known_times, parse_timestamp

__all__ = ["Event", "Location", "EventError", "decode", "from_dict", "to_dict", "READ_FIELDS",
           "without_personal_data",
           "parse_timestamp", "format_timestamp", "EVENT_FIELDS", "LOCATION_FIELDS", "AREA_LEVELS",
           "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "event.schema.json"

# What one event may hold: far more than any device or resident sends, far less than what
# would let a single event fill a worker's memory or a Kafka record.
MAX_EVENT_BYTES = 64 * 1024
MAX_NAME_CHARS = 256          # ids, types, units, channels, categories, places
MAX_TEXT_CHARS = 8_000        # a report's text
MAX_ATTRS_BYTES = 16 * 1024   # attrs and reporter, as JSON
MAX_NESTING = 16              # levels of objects and arrays inside attrs or reporter
SHARED_BYTES = 4 * 1024 * 1024  # texts of locations, and of attrs, decoded once and shared

_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
_Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)]


class Location(msgspec.Struct, gc=False, frozen=True, omit_defaults=True):
    """District › street › community › grid › building, and coordinates."""

    district: _Name | None = None
    street: _Name | None = None
    community: _Name | None = None
    grid: _Name | None = None
    building: _Name | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None


class Event(msgspec.Struct, gc=False, omit_defaults=True):
    """A reading (device_id, type, value required) or a report (text required)."""

    kind: Literal["reading", "report"]
    id: _Text
    ts: int | _Name
    source: _Name | None = None
    location: Location | None = None
    attrs: dict[str, Any] | None = None
    device_id: _Text | None = None
    type: _Text | None = None
    value: float | None = None
    unit: _Name | None = None
    channel: _Name | None = None
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    category: _Name | None = None
    reporter: dict[str, Any] | None = None
    # Set by ewe, never by a producer: the anomaly score each model gave this event, and what
    # ewe read in a report (engine.reports.reader).
    scores: dict[str, float] | None = None
    category_source: _Name | None = None
    category_confidence: float | None = None
    problem: _Name | None = None
    topic: _Name | None = None


# The fields ewe sets on a report (rules read them like any field; producers may not send them).
READ_FIELDS = ("category_source", "category_confidence", "problem", "topic")
EVENT_FIELDS = tuple(name for name in Event.__struct_fields__ if name != "scores")
LOCATION_FIELDS = Location.__struct_fields__
# The area hierarchy of grid management (网格化管理), widest first.
AREA_LEVELS = ("district", "street", "community", "grid", "building")

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

    def __init__(self, field: str, kind: Any, max_bytes: int = SHARED_BYTES) -> None:
        self.field = field
        self.decoder = msgspec.json.Decoder(kind)
        self.values: dict[bytes, Any] = {}
        self.max_bytes = max_bytes
        self.bytes = 0      # of the texts held: their decoded values take a few times more

    def add(self, text: bytes) -> Any:
        """Decode a text not seen before, and remember it."""
        if len(text) > MAX_ATTRS_BYTES:
            raise EventError(self.field, f"larger than {MAX_ATTRS_BYTES} bytes of JSON")
        try:
            value = self.decoder.decode(text)
        except msgspec.ValidationError as error:
            raise translate(error, self.field) from None
        check_nesting(value, self.field, MAX_NESTING)
        # Bounded by bytes, not by count: sixty texts of a megabyte each once held a gigabyte.
        # Far fewer distinct places and devices report than the bound holds.
        if self.bytes + len(text) > self.max_bytes:
            self.values.clear()
            self.bytes = 0
        self.values[text] = value
        self.bytes += len(text)
        return value


_shared_location = _Shared("location", Location | None)
_shared_attrs = _Shared("attrs", dict[str, Any] | None)
_known_locations, _known_attrs = _shared_location.values, _shared_attrs.values


def decode(raw: bytes | str) -> tuple[int, Event]:
    """Parse and validate one JSON event; returns (event time in ms, event)."""
    if len(raw) > MAX_EVENT_BYTES:
        raise EventError("$", f"an event is at most {MAX_EVENT_BYTES} bytes, got {len(raw)}")
    try:
        event = _DECODER.decode(raw)
    except msgspec.ValidationError as error:
        raise _every_problem(_generic(raw, error)) from None
    except msgspec.DecodeError as error:
        raise EventError("$", f"invalid JSON: {error}") from None
    except RecursionError:
        raise _too_deep() from None
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
    if event.reporter is not None:
        _check_reporter(event.reporter)
    try:
        return _check(event), event
    except EventError as error:
        raise _every_problem(_generic(raw, error)) from None


class _PersonalFields(msgspec.Struct):
    text: str | None = None
    reporter: dict[str, Any] | None = None


_PERSONAL = msgspec.json.Decoder(_PersonalFields)


def without_personal_data(raw: bytes, event: Event) -> tuple[bytes, Contact | None]:
    """The event as it may travel (no reporter, its text masked, as `decode` gave it), and what
    only the reply step may read (None when there is nothing). Readings travel as they came."""
    if event.kind != "report":
        return raw, None
    personal = _PERSONAL.decode(raw)
    if personal.reporter is None and personal.text == event.text:
        return raw, None
    public = msgspec.json.encode({name: value for name, value in
                                  msgspec.structs.asdict(event).items()
                                  if value is not None and name != "reporter"})
    original = personal.text if personal.text != event.text else None
    return public, Contact(event.id, personal.reporter, original)


def from_dict(data: Any) -> tuple[int, Event]:
    """Validate an already-parsed event (a dict, as from YAML or another decoder)."""
    if type(data) is not dict:
        raise EventError("$", f"an event is a JSON object, got {type_name(data)}")
    try:
        event = msgspec.convert(data, Event)
        for name in ("attrs", "reporter"):
            check_nesting(getattr(event, name), name, MAX_NESTING)
        return _check(event), event
    except (msgspec.ValidationError, EventError):
        raise _every_problem(data) from None


def _generic(raw: bytes | str, first: Exception) -> Any:
    """The event as plain data, to find all its problems; the first one alone when the JSON
    cannot even be read as plain data (a number out of range)."""
    try:
        return msgspec.json.decode(raw)
    except RecursionError:
        raise _too_deep() from None
    except msgspec.ValidationError:     # (a kind of DecodeError: caught first)
        raise first if isinstance(first, EventError) else translate(first) from None
    except msgspec.DecodeError as error:   # the typed decoder stopped before the syntax error
        raise EventError("$", f"invalid JSON: {error}") from None


def _too_deep() -> EventError:
    return EventError("$", f"JSON nested too deeply (objects and arrays {MAX_NESTING} levels "
                           "deep at most)")


def _check_reporter(reporter: dict) -> None:
    if len(msgspec.json.encode(reporter)) > MAX_ATTRS_BYTES:
        raise EventError("reporter", f"larger than {MAX_ATTRS_BYTES} bytes of JSON")
    check_nesting(reporter, "reporter", MAX_NESTING)


_EVENT_SPECS = msgspec.structs.fields(Event)
_FIELD_ORDER = {name: index for index, name in enumerate(Event.__struct_fields__)}


def _every_problem(data: Any) -> EventError:
    """Every problem of an event that failed validation, field by field (the slow path, for
    refusals only: the decoder stops at the first)."""
    if type(data) is not dict:
        return EventError("$", "an event is a JSON object, got "
                               + type_words(data))
    problems: list[tuple[str, str]] = []
    for spec in _EVENT_SPECS:
        if spec.name not in data:
            if spec.required:
                problems.append((spec.name, 'missing (expected "reading" or "report")'
                                 if spec.name == "kind" else "missing"))
            continue
        try:
            value = msgspec.convert(data[spec.name], spec.type)
            if spec.name in ("attrs", "reporter"):
                if len(msgspec.json.encode(value)) > MAX_ATTRS_BYTES:
                    raise EventError(spec.name, f"larger than {MAX_ATTRS_BYTES} bytes of JSON")
                check_nesting(value, spec.name, MAX_NESTING)
        except msgspec.ValidationError as error:
            problems.append(translate(error, spec.name).problems[0])
        except EventError as error:
            problems.extend(error.problems)
    if not any(name == "scores" for name, _ in problems) and data.get("scores") is not None:
        problems.append(("scores", "is set by ewe's anomaly models, not by producers"))
    for name in READ_FIELDS:
        if not any(field == name for field, _ in problems) and data.get(name) is not None:
            problems.append((name, _READ_BY_EWE))
    kind = data.get("kind")
    required = {"reading": ("device_id", "type", "value"), "report": ("text",)}.get(
        kind if isinstance(kind, str) else "", ())
    for name in required:
        if data.get(name) is None and not any(field == name for field, _ in problems):
            expected = "a number" if name == "value" else "a non-empty string"
            problems.append((name, f"missing (expected {expected})"))
    value = data.get("value")
    if kind == "reading" and isinstance(value, float) and not isfinite(value):
        problems.append(("value", "must be finite"))
    if not any(name == "ts" for name, _ in problems) and "ts" in data:
        try:
            parse_timestamp(data["ts"])
        except EventError as error:
            problems.append(error.problems[0])
    problems.sort(key=lambda problem: _FIELD_ORDER.get(problem[0].split(".")[0], -1))
    if not problems:    # not expected: validation failed, so some field must be wrong
        problems.append(("$", "not a valid event"))
    return EventError(*problems[0], tuple(problems[1:]))


def to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data, without the fields it does not have."""
    return msgspec.to_builtins(event)


_READ_BY_EWE = "is set by ewe when it reads a report, not by producers"


def _check(event: Event) -> int:
    """What the types cannot say: the fields each kind requires, and the event time."""
    if event.scores is not None:
        raise EventError("scores", "is set by ewe's anomaly models, not by producers")
    if (event.problem is not None or event.topic is not None or event.category_source is not None
            or event.category_confidence is not None):
        raise EventError(next(name for name in READ_FIELDS if getattr(event, name) is not None),
                         _READ_BY_EWE)
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
    else:
        event.text = mask_text(event.text)   # rules and alerts never see what it hides
    ts = event.ts
    if type(ts) is int:
        if MIN_MS <= ts < MAX_MS:
            return ts
    else:
        cached = known_times.get(ts)
        if cached is not None:
            return cached
    return parse_timestamp(ts)


