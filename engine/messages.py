"""The messages that cross from one part of ewe to another, typed once for writer and reader.

- `AlertRecord`: an alert change, written by the rules (`engine.shapes`), carried on
  `ewe.alerts`, read by the center's ledger (and by `ewe replay --out`).
- `ChainEvent`: a step of the warning chain, written by the ledger, carried on
  `ewe.alert-events`, read back by the workers (rule precision, false positives).
- `RulesRecord`: a signed rule pack, written by `ewe rules push`, carried on `ewe.rules`, read
  by every worker.
- `PackStatus`: the rule pack a worker runs, what it quarantined and which pushes it refused,
  handed to the center served beside it (the board's rule view).

The alert record and the chain event are `TypedDict`s: they are built and read as plain data
(the center's matchers read records by field path), and msgspec validates and describes them as
it does the rules record, a struct.
Their JSON Schemas are published beside the event's (`engine/schemas/`).

>>> decode_alert_record(b'{"id": "a1", "rule": "r", "key": "k", "severity": "purple",'
...                     b' "change": "fired", "at": 1782864000000, "starts_at": 1782864000000}')
Traceback (most recent call last):
...
ValueError: severity: 'purple' is not one of blue, yellow, orange, red
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

import msgspec

from engine.refusals import EventError
from engine.timestamps import parse_timestamp

__all__ = ["AlertRecord", "Evidence", "ChainEvent", "RulesRecord", "RuleOutline",
           "ModelOutline", "Held", "Refusal", "PackStatus", "decode_alert_record",
           "decode_chain_event", "decode_rules_record", "encode", "SCHEMAS", "schema_of"]

Severity = Literal["blue", "yellow", "orange", "red"]
# `updated`: a firing alert with `evidence:` gained an event behind it (no new notice).
Change = Literal["fired", "escalated", "updated", "resolved"]


class Evidence(TypedDict):
    """An event behind an alert: a reading (device_id, type, value) or a report (text,
    masked; its category with where that came from and how sure it is; its problem);
    never a reporter."""

    id: str
    ts: int | str
    device_id: NotRequired[str | None]
    type: NotRequired[str | None]
    value: NotRequired[float | None]
    category: NotRequired[str | None]
    category_source: NotRequired[Literal["producer", "operator", "rule", "model", "none"] | None]
    category_confidence: NotRequired[float | None]
    problem: NotRequired[str | None]
    text: NotRequired[str | None]


class AlertRecord(TypedDict):
    """One change of an alert (fired, escalated, updated, resolved) in event time."""

    id: str
    rule: str
    key: str
    severity: Severity
    change: Change
    at: int | str
    starts_at: int | str
    status: NotRequired[Literal["firing", "resolved"]]
    labels: NotRequired[dict[str, str] | None]
    title: NotRequired[dict[str, str] | None]
    summary: NotRequired[dict[str, str] | None]
    location: NotRequired[dict[str, Any] | None]
    evidence: NotRequired[list[Evidence] | None]
    occurrences: NotRequired[int]


class ChainEvent(TypedDict):
    """A step of the chain (or feedback, an escalation) as the workers read it back."""

    seq: int
    alert_id: str
    rule: str
    key: str
    kind: str
    actor: str
    at: str
    data: dict[str, Any]


class RulesRecord(msgspec.Struct, frozen=True):
    """A rule pack and the event time it applies from, signed with the cluster's rules key."""

    version: str
    at: int
    files: dict[str, str]
    signature: str | None = None


class RuleOutline(msgspec.Struct, frozen=True):
    """A rule as its authors look it up: where it is written, what it reads, what it raises."""

    id: str
    kind: Literal["condition", "absence", "sequence"]
    file: str
    line: int
    on: tuple[str, ...]
    severities: tuple[Severity, ...]
    category: str | None
    title: dict[str, str]
    models: tuple[str, ...]


class ModelOutline(msgspec.Struct, frozen=True):
    id: str
    detector: str
    file: str
    line: int
    on: tuple[str, ...]


class Held(msgspec.Struct, frozen=True):
    """A rule or model quarantined after it failed at run time, in these partitions."""

    id: str
    reason: str
    at: int | None              # the event time it failed at
    partitions: tuple[int, ...]


class Refusal(msgspec.Struct, frozen=True):
    """A pushed pack (or a record on the rules topic) that the worker refused."""

    at: int                     # ms, when the worker read it
    reason: str


class PackStatus(msgspec.Struct, frozen=True):
    version: str                # "local": the files the worker started with
    rules: tuple[RuleOutline, ...]
    models: tuple[ModelOutline, ...]
    quarantined: tuple[Held, ...]
    refused: tuple[Refusal, ...]


_ALERT = msgspec.json.Decoder(AlertRecord)
decode_chain_event = msgspec.json.Decoder(ChainEvent).decode
decode_rules_record = msgspec.json.Decoder(RulesRecord).decode


def decode_alert_record(raw: bytes) -> AlertRecord:
    """An alert record from its JSON; `ValueError` saying what is wrong otherwise."""
    try:
        record = _ALERT.decode(raw)
    except msgspec.ValidationError as error:
        raise ValueError(_reason(error)) from None
    except msgspec.DecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    for name in ("id", "rule", "key"):
        if not record[name]:
            raise ValueError(f"{name}: expected a non-empty string")
    for name in ("at", "starts_at"):
        try:
            parse_timestamp(record[name], name)
        except EventError as error:
            raise ValueError(str(error)) from None
    return record


def _reason(error: msgspec.ValidationError) -> str:
    text = str(error)
    what, _, where = text.partition(" - at `$.")
    field = where.rstrip("`").split(".")[0].split("[")[0]
    if what.startswith("Invalid enum value"):
        allowed = {"severity": Severity, "change": Change}.get(field)
        if allowed is not None:
            return (f"{field}: {what.removeprefix('Invalid enum value ')} is not one of "
                    f"{', '.join(allowed.__args__)}")
    return f"{field}: {what[:1].lower()}{what[1:]}" if field else what


encode = msgspec.json.Encoder().encode

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMAS = {"alert-record.schema.json": AlertRecord, "chain-event.schema.json": ChainEvent,
           "rules-record.schema.json": RulesRecord}


def schema_of(kind: type) -> bytes:
    """The JSON Schema of a message, as published in `engine/schemas/`."""
    schema = msgspec.json.schema(kind)
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"
