"""Kafka record values: a record carries a batch of events, and what cannot be read goes to the
dead-letter topic with its reason and its original bytes.

A record whose value is a JSON array is a batch; a single JSON object is a batch of one, so any
Kafka client can produce. ewe's own producers put the events of one partition and a short time
slice in one record, because the streaming runtime pays per record, not per event. The partition
of an event is the one Kafka's default partitioner gives its area key (murmur2, as the Java
client), so batched and single-event records of an area meet in the same partition.

>>> batch = split(b'[{"kind":"reading"},{"kind":"report"}]')
>>> [bytes(raw) for raw in batch]
[b'{"kind":"reading"}', b'{"kind":"report"}']
>>> split(b'{"kind":"reading"}')
[b'{"kind":"reading"}']
>>> split(b'[1, 2')
Traceback (most recent call last):
...
streams.records.RecordError: record: not a JSON object or array (input data was truncated)
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import msgspec
import orjson
from aiokafka.partitioner import murmur2

from engine.events import AREA_LEVELS as EVENT_AREA_LEVELS
from engine.events import Event
from engine.privacy import mask_text

__all__ = ["RecordError", "split", "join", "records", "area_key", "partition_of", "dead_letter",
           "AREA_LEVELS", "MAX_EVENTS_PER_RECORD"]

MAX_EVENTS_PER_RECORD = 10_000

# Devices do not move: keyed by grid, a device's, building's and grid's state share a partition.
# Narrowest first, the building left out: its name is unique within its grid only.
AREA_LEVELS = tuple(reversed(EVENT_AREA_LEVELS[:-1]))

_as_batch = msgspec.json.Decoder(list[msgspec.Raw])


class RecordError(ValueError):
    """The record as a whole is unreadable; its reason names what is wrong."""


def split(value: bytes | None, max_events: int | None = None) -> list[bytes | msgspec.Raw]:
    """The raw JSON of each event in a record value, undecoded; at most `max_events` of them
    (`RecordError` past it)."""
    if not value:
        raise RecordError("record: empty value")
    start = value.lstrip()[:1]
    if start == b"{":
        return [value]
    if start == b"[":
        try:
            raws = _as_batch.decode(value)
        except msgspec.DecodeError as error:
            raise RecordError(f"record: not a JSON object or array ({_plain(error)})") from None
        except RecursionError:
            raise RecordError("record: JSON nested too deeply") from None
        if max_events is not None and len(raws) > max_events:
            # Each refused event costs tens of microseconds: a body of millions of `{}` would
            # hold the process for minutes.
            raise RecordError(f"record: {len(raws):,} events; at most {max_events:,} in one "
                              "batch")
        return raws
    raise RecordError("record: not a JSON object or array")


def join(events: Iterable[bytes]) -> bytes:
    """One record value from already encoded events."""
    return b"[" + b",".join(events) + b"]"


def records(events: list[bytes], *, max_bytes: int) -> list[tuple[bytes, int]]:
    """Record values for a group of encoded events, with how many events each holds: as few
    as can be, each of at most `MAX_EVENTS_PER_RECORD` events and `max_bytes` bytes (below the
    broker's limit).

    >>> records([b"{}"] * 5, max_bytes=8)
    [(b'[{},{}]', 2), (b'[{},{}]', 2), (b'[{}]', 1)]
    """
    values, chunk, size = [], [], 2
    for event in events:
        if chunk and (size + len(event) + 1 > max_bytes or len(chunk) >= MAX_EVENTS_PER_RECORD):
            values.append((join(chunk), len(chunk)))
            chunk, size = [], 2
        chunk.append(event)
        size += len(event) + 1
    if chunk:
        values.append((join(chunk), len(chunk)))
    return values


def area_key(event: Event) -> str:
    """The partition key of an event: its grid, or the nearest wider area it names; events
    with no location go by device (or report id), so each device still stays on one partition."""
    location = event.location
    if location is not None:
        for level in AREA_LEVELS:
            area = getattr(location, level)
            if area:
                return area
    return event.device_id or event.id


@lru_cache(maxsize=1 << 16)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner sends `key` to.

    >>> partition_of("YZ-03-07", 4)
    0
    """
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def dead_letter(original: bytes, reason: str, **origin: Any) -> bytes:
    """The dead-letter record: why, where from, and the original bytes (as text when they are
    UTF-8, else base64), without personal data: a reporter is removed and texts are masked,
    even when the original cannot be read as JSON."""
    record: dict[str, Any] = {"reason": reason, **origin}
    try:
        record["original"] = _without_personal_data(bytes(original).decode())
    except UnicodeDecodeError:
        record["original_base64"] = base64.b64encode(bytes(original)).decode()
    return orjson.dumps(record)


_REPORTER = re.compile(r'"reporter"\s*:\s*(\{[^{}]*\}|"[^"]*"|\[[^\[\]]*\])')


def _without_personal_data(text: str) -> str:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        event = None
    if isinstance(event, dict) and ("reporter" in event or isinstance(event.get("text"), str)):
        event.pop("reporter", None)
        if isinstance(event.get("text"), str):
            event["text"] = mask_text(event["text"])
        return orjson.dumps(event).decode()
    return mask_text(_REPORTER.sub('"reporter": "(removed)"', text))


def _plain(error: Exception) -> str:
    text = str(error)
    return text[:1].lower() + text[1:] if text else type(error).__name__
