"""The streaming runtime end to end: a real worker process on the real embedded broker."""
from __future__ import annotations

import subprocess
import time

import orjson
import pytest
from streaming import (
    WorkerProcess,
    batched_records,
    changes,
    consume,
    produce,
    replayed,
    unique_prefix,
)
from tools import needs

from engine.events import decode
from engine.simulation import simulate
from streams.records import area_key

WEEK_MS = 7 * 86_400_000
LATENESS_MS = 120_000


@pytest.fixture(scope="module")
def old_city():
    """Three hours of a city, five weeks ago: a gateway's buffer or a backfill, uploaded now.
    Each area ends with a reading a day later, so every partition's watermark passes every
    event, live as in replay."""
    start = (time.time_ns() // 1_000_000 - 5 * WEEK_MS) // 3_600_000 * 3_600_000
    events = [orjson.dumps(event) for event in
              simulate(seed=7, duration_ms=3 * 3_600_000, devices=160, start_ms=start).events]
    last = max(decode(raw)[0] for raw in events)
    areas = sorted({area_key(decode(raw)[1]) for raw in events})
    events += [orjson.dumps({"kind": "reading", "id": f"end-{area}", "ts": last + 86_400_000,
                             "device_id": f"end-{area}", "type": "end_of_test", "value": 0,
                             "location": {"grid": area}}) for area in areas]
    return events


def alerts_of(values: list[bytes]) -> list[dict]:
    return [orjson.loads(value) for value in values]


def test_live_stream_of_weeks_old_events_gives_the_replayed_alerts(broker, shipped_pack, old_city,
                                                                   tmp_path):
    expected = changes(replayed(old_city, shipped_pack, LATENESS_MS))
    assert len(expected) > 50
    prefix = unique_prefix()
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=prefix, lateness="2m",
                           idle_after="0s").start()
    try:
        produce(broker.bootstrap, batched_records(old_city, prefix))
        live = consume(broker.bootstrap, f"{prefix}alerts",
                       done=lambda values: len(changes(alerts_of(values))) >= len(expected),
                       timeout=60, settle=1.5)
    finally:
        worker.stop()
    assert changes(alerts_of(live)) == expected


# -- one worker, many inputs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    prefix = unique_prefix()
    running = WorkerProcess(tmp_path_factory.mktemp("worker"), broker=broker.url, prefix=prefix,
                            mqtt="mqtt://127.0.0.1:1883",
                            mqtt_topics=f"ewe-test/{prefix}/#").start()
    running.prefix = prefix
    yield running
    running.stop()


def smoke(event_id: str, value: float = 3.0, **extra) -> dict:
    """A smoke detector in alarm now: the shipped fire.smoke.alarm rule fires on it."""
    return {"kind": "reading", "id": event_id, "ts": time.time_ns() // 1_000_000,
            "device_id": f"smoke-{event_id}", "type": "smoke", "value": value,
            "location": {"grid": f"G-{event_id}", "building": "B1"}, **extra}


def alerts_for(worker, event_id: str, timeout: float = 15) -> list[dict]:
    def mine(values):
        return [alert for alert in alerts_of(values)
                if any(item["id"] == event_id for item in alert["evidence"])]
    found = consume(worker_bootstrap(worker), f"{worker.prefix}alerts",
                    done=lambda values: bool(mine(values)), timeout=timeout, settle=0)
    return mine(found)


def dead_letters_about(worker, needle: str, timeout: float = 15) -> list[dict]:
    def mine(values):
        return [letter for letter in map(orjson.loads, values)
                if needle in letter.get("original", "")]
    found = consume(worker_bootstrap(worker), f"{worker.prefix}dead-letter",
                    done=lambda values: bool(mine(values)), timeout=timeout, settle=0)
    return mine(found)


def worker_bootstrap(worker) -> str:
    return worker.args[worker.args.index("--broker") + 1].removeprefix("kafka://")


def test_http_ingest_answers_202_with_accepted_and_rejected_counts_and_reasons(worker):
    body = orjson.dumps([smoke("h1"), smoke("h2"), {"kind": "reading", "id": "h3"}])
    status, answer = worker.post("/v1/events", body)
    assert status == 202
    assert answer["accepted"] == 2 and answer["rejected"] == 1
    assert answer["rejections"] == [{"index": 2, "reason": (
        "ts: missing; device_id: missing (expected a non-empty string); type: missing (expected "
        "a non-empty string); value: missing (expected a number)")}]


def test_http_event_raises_an_alert_on_the_alerts_topic(worker):
    worker.post("/v1/events", orjson.dumps(smoke("h10")))
    [alert] = alerts_for(worker, "h10")
    assert (alert["rule"], alert["severity"], alert["status"]) == \
        ("fire.smoke.alarm", "yellow", "firing")


def test_http_body_that_is_not_json_gets_400_with_the_reason(worker):
    status, answer = worker.post("/v1/events", b"kind=reading")
    assert status == 400
    assert answer["rejections"][0]["reason"] == "record: not a JSON object or array"


def test_http_body_over_16_mib_gets_413(worker):
    status, answer = worker.post("/v1/events", b"[" + b" " * (16 * 1024 * 1024) + b"]")
    assert status == 413 and "larger than" in answer["error"]


def test_rejected_http_event_is_dead_lettered_with_reason_and_original_bytes(worker):
    worker.post("/v1/events", orjson.dumps({**smoke("h20"), "ts": "yesterday"}))
    [letter] = dead_letters_about(worker, '"h20"')
    assert letter["reason"] == "ts: not an ISO 8601 timestamp: 'yesterday'"
    assert orjson.loads(letter["original"])["ts"] == "yesterday"


def test_single_event_record_from_a_foreign_kafka_producer_is_evaluated(worker):
    produce(worker_bootstrap(worker), [(f"{worker.prefix}readings", None,
                                        orjson.dumps(smoke("k1")))])
    assert alerts_for(worker, "k1")


def test_unreadable_kafka_record_is_dead_lettered_and_the_worker_goes_on(worker):
    bootstrap = worker_bootstrap(worker)
    produce(bootstrap, [(f"{worker.prefix}readings", b"G-k2", b'{"kind": "reading", "id": "k2"'),
                        (f"{worker.prefix}readings", b"G-k3", orjson.dumps([smoke("k3")]))])
    [letter] = dead_letters_about(worker, '"k2"')
    assert letter["reason"].startswith("$: invalid JSON")
    assert letter["topic"] == f"{worker.prefix}readings" and "offset" in letter
    assert alerts_for(worker, "k3")


def test_event_stamped_far_in_the_future_is_dead_lettered_not_evaluated(worker):
    future = smoke("k4")
    future["ts"] += 86_400_000
    produce(worker_bootstrap(worker), [(f"{worker.prefix}readings", None,
                                        orjson.dumps(future))])
    [letter] = dead_letters_about(worker, '"k4"')
    assert "ahead of the clock" in letter["reason"] and letter["topic"].endswith("readings")


def test_http_event_stamped_far_in_the_future_is_refused_at_the_edge(worker):
    future = smoke("h40")
    future["ts"] += 86_400_000
    status, answer = worker.post("/v1/events", orjson.dumps(future))
    assert status == 400
    assert answer["rejections"][0]["reason"].endswith("is more than 3600 s ahead of the clock")


def test_http_event_with_several_bad_fields_is_told_about_each(worker):
    status, answer = worker.post("/v1/events", orjson.dumps({**smoke("h41"), "ts": "yesterday",
                                                             "value": "x"}))
    assert status == 400
    assert answer["rejections"][0]["reason"] == (
        "ts: not an ISO 8601 timestamp: 'yesterday'; value: expected a number, got a string")


def test_http_event_nested_100000_deep_is_refused_and_dead_lettered(worker):
    deep = b'{"kind":"reading","id":"h42","attrs":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, answer = worker.post("/v1/events", deep)
    assert status == 400 and "at most 65536 bytes" in answer["rejections"][0]["reason"]
    status, answer = worker.post("/v1/events", b"[" * 30_000 + b"]" * 30_000)
    assert status == 400 and "nested too deeply" in answer["rejections"][0]["reason"]


def test_event_sent_twice_is_evaluated_once_and_counted_as_a_duplicate(worker):
    event = smoke("h30")
    status, _ = worker.post("/v1/events", orjson.dumps([event, event]))   # a client's retry
    [alert] = alerts_for(worker, "h30")
    assert status == 202 and alert["occurrences"] == 1
    deadline = time.monotonic() + 10
    while b"ewe_duplicate_events_total 1.0" not in worker.get("/metrics"):
        assert time.monotonic() < deadline, "duplicate not counted"
        time.sleep(0.2)


@needs("mosquitto_pub", "mosquitto-clients")
def test_mqtt_message_published_with_mosquitto_pub_raises_an_alert(worker):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-q", "1",
                    "-t", f"ewe-test/{worker.prefix}/gateway-7", "-m",
                    orjson.dumps(smoke("m1")).decode()], check=True, timeout=10)
    [alert] = alerts_for(worker, "m1")
    assert alert["rule"] == "fire.smoke.alarm"


@needs("mosquitto_pub", "mosquitto-clients")
def test_malformed_mqtt_payload_is_dead_lettered_with_its_reason(worker):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "1883", "-q", "1",
                    "-t", f"ewe-test/{worker.prefix}/gateway-7", "-m",
                    orjson.dumps({**smoke("m2"), "ts": 1}).decode()],
                   check=True, timeout=10)
    [letter] = dead_letters_about(worker, '"m2"')
    assert letter["source"] == "mqtt" and letter["reason"].startswith("ts: timestamp 1 is outside")


@needs("promtool", "prometheus")
def test_metrics_exposition_passes_promtool(worker, tmp_path):
    worker.post("/v1/events", orjson.dumps(smoke("p1")))
    alerts_for(worker, "p1")
    exposition = worker.get("/metrics")
    for name in (b"ewe_events_total", b"ewe_dead_letters_total", b"ewe_late_events_total",
                 b"ewe_rule_evaluations_total", b"ewe_rule_firings_total",
                 b"ewe_alert_records_total", b"ewe_event_to_alert_latency_seconds_bucket",
                 b"ewe_consumer_lag_records", b"ewe_watermark_delay_seconds",
                 b"ewe_active_keys", b"ewe_duplicate_events_total", b"faust_"):
        assert name in exposition, name
    check = subprocess.run(["promtool", "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_metrics_have_no_created_series_and_time_in_seconds(worker):
    worker.post("/v1/events", orjson.dumps(smoke("p2")))
    alerts_for(worker, "p2")
    names = {line.split(b"{")[0].split(b" ")[0] for line in worker.get("/metrics").splitlines()
             if line and not line.startswith(b"#")}
    assert not [name for name in names if name.endswith(b"_created")]
    histograms = {name.removesuffix(b"_bucket") for name in names if name.endswith(b"_bucket")}
    assert histograms and all(name.endswith(b"_seconds") for name in histograms), histograms
    assert b"faust_producer_send_seconds_count" in names


def test_events_dated_year_1_are_refused_and_the_worker_stays_responsive(worker):
    ancient = {**smoke("h50"), "ts": "0001-01-01T00:00:00Z", "type": "water_level"}
    body = orjson.dumps([ancient, {**ancient, "id": "h51"},
                         {**smoke("h52"), "type": "water_level", "value": 0.01}])
    status, answer = worker.post("/v1/events", body)
    assert (status, answer["accepted"], answer["rejected"]) == (202, 1, 2)
    began = time.monotonic()
    for _ in range(5):
        assert orjson.loads(worker.get("/healthz"))["status"] == "ok"
    assert time.monotonic() - began < 2
