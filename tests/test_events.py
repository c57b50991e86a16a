"""The event envelope: what is accepted, and the precise reason for what is not."""
from __future__ import annotations

import json

import orjson
import pytest
from jsonschema import Draft202012Validator

from engine.events import SCHEMA_PATH, EventError, decode, from_dict, to_dict
from engine.simulation import simulate

READING = {"kind": "reading", "id": "r1", "ts": "2026-07-01T08:00:00+08:00", "device_id": "wl-017",
           "type": "water_level", "value": 0.31, "unit": "m",
           "location": {"district": "渝中区", "street": "解放碑街道", "community": "较场口社区",
                        "grid": "YZ-03-07", "building": "B12"}, "attrs": {}}
REPORT = {"kind": "report", "id": "t9", "ts": 1782864000000, "channel": "hotline",
          "text": "3栋楼道漏水", "category": "water_leak", "location": {"building": "B3"},
          "reporter": {"phone": "13800000000"}}


def with_(base: dict, **changes) -> bytes:
    event = dict(base)
    for name, value in changes.items():
        if value is ...:
            del event[name]
        else:
            event[name] = value
    return orjson.dumps(event)


def test_reading_with_iso_time_decodes_to_epoch_milliseconds():
    t, event = decode(orjson.dumps(READING))
    assert t == 1782864000000 and to_dict(event) == READING


def test_report_with_epoch_milliseconds_decodes():
    assert decode(orjson.dumps(REPORT))[0] == 1782864000000


def test_z_suffix_is_utc():
    assert decode(with_(READING, ts="2026-07-01T00:00:00Z"))[0] == 1782864000000


@pytest.mark.parametrize("raw, field, reason", [
    (b"{not json", "$", "invalid JSON"),
    (b"[1, 2]", "$", "an event is a JSON object, got an array"),
    (with_(READING, kind="sensor"), "kind", 'expected "reading" or "report", got \'sensor\''),
    (with_(READING, id=...), "id", "missing"),
    (with_(READING, id=""), "id", "expected a non-empty string"),
    (with_(READING, ts=...), "ts", "missing"),
    (with_(READING, ts="2026-07-01T08:00:00"), "ts", "needs a UTC offset"),
    (with_(READING, ts="yesterday"), "ts", "not an ISO 8601 timestamp: 'yesterday'"),
    (with_(READING, ts=1782864000), "ts", "epoch milliseconds expected, not seconds"),
    (with_(READING, ts=1.5e12), "ts", "expected an ISO 8601 string or integer epoch milliseconds"),
    (with_(READING, ts=True), "ts", "expected an ISO 8601 string or integer epoch milliseconds"),
    (with_(READING, device_id=...), "device_id", "missing"),
    (with_(READING, type=7), "type", "expected a string, got integer"),
    (with_(READING, value="0.3"), "value", "expected a number, got a string"),
    (with_(READING, value=True), "value", "expected a number, got boolean"),
    (with_(READING, value=...), "value", "missing (expected a number)"),
    (with_(READING, location="B12"), "location", "expected an object, got a string"),
    (with_(READING, location={"grid": 3}), "location.grid", "expected a string, got integer"),
    (with_(READING, location={"lat": 123.0}), "location.lat", "expected a number in [-90, 90]"),
    (with_(READING, attrs=[1]), "attrs", "expected an object, got an array"),
    (with_(READING, source=1), "source", "expected a string"),
    (with_(REPORT, text=...), "text", "missing (expected a non-empty string)"),
    (with_(REPORT, category=["a"]), "category", "expected a string, got an array"),
    (with_(REPORT, reporter="138"), "reporter", "expected an object"),
])
def test_bad_event_is_refused_naming_the_field_and_what_is_wrong(raw, field, reason):
    with pytest.raises(EventError) as caught:
        decode(raw)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_infinite_json_number_is_refused():
    with pytest.raises(EventError, match="value: must be finite"):
        decode(with_(READING).replace(b"0.31", b"1e999"))


def test_nan_value_from_another_decoder_is_refused():
    with pytest.raises(EventError, match="value: must be finite"):
        from_dict(dict(READING, value=float("nan")))


def test_integer_value_is_read_as_a_number():
    assert decode(with_(READING, value=3))[1].value == 3.0


def test_fields_outside_the_envelope_are_not_kept():
    assert "battery" not in to_dict(decode(with_(READING, battery=80))[1])


def test_simulated_events_and_examples_conform_to_the_published_schema():
    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    events = [READING, REPORT] + list(simulate(seed=3, duration_ms=3_600_000, devices=80).events)
    assert all(to_dict(from_dict(e)[1]) == e for e in events[:50])
    errors = [(e["id"], error.message) for e in events for error in validator.iter_errors(e)]
    assert errors == []


def test_the_schema_rejects_a_reading_without_a_value():
    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    assert not validator.is_valid({k: v for k, v in READING.items() if k != "value"})


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                "2300-01-01T00:00:00+08:00"])
def test_a_time_outside_the_range_is_refused_every_time_it_is_seen(ts):
    for _ in range(3):    # the second copy of a text once went past the check
        with pytest.raises(EventError, match="outside 2000..2200"):
            decode(with_(READING, ts=ts))


def test_shared_attrs_are_bounded_by_bytes_not_by_count():
    from engine import events

    for n in range(1_000):    # 15 MB of distinct attrs, each under the per-event limit
        decode(with_(READING, id=f"r{n}", attrs={"n": n, "blob": "x" * 15_000}))
    held = sum(len(text) for text in events._shared_attrs.values)
    assert held <= events.SHARED_BYTES and held == events._shared_attrs.bytes


def test_the_published_message_schemas_are_those_of_the_message_types():
    from engine.messages import SCHEMA_DIR, SCHEMAS, schema_of

    for name, kind in SCHEMAS.items():
        assert (SCHEMA_DIR / name).read_bytes() == schema_of(kind), f"{name} is out of date"


def test_alert_records_of_a_simulated_city_fit_their_published_schema():
    from engine.evaluator import Evaluator
    from engine.messages import SCHEMA_DIR
    from engine.pack import Pack

    schema = json.loads((SCHEMA_DIR / "alert-record.schema.json").read_text())
    events = [decode(orjson.dumps(event)) for event in
              simulate(seed=3, duration_ms=6 * 3_600_000, devices=200).events]
    evaluator = Evaluator(Pack.load(["rules"]))
    records = evaluator.process(events).alerts + evaluator.flush().alerts
    validator = Draft202012Validator(schema)
    assert records and all(not list(validator.iter_errors(record)) for record in records)
