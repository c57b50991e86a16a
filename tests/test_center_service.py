"""The center's Kafka side on the real broker and both databases: alert records re-delivered
are recorded once, and chain events reach the alert-events topic."""
from __future__ import annotations

import asyncio
import time

import orjson
from center_records import MINUTE, T0, alert_record, shipped_duty
from streaming import _produce, consume, unique_prefix

from center.ledger import AlertFilter
from center.service import CenterService
from streams.runtime import prepare_cluster
from streams.settings import Settings


async def run_center(store, clock, bootstrap: str, prefix: str,
                     records: list[dict | bytes]) -> CenterService:
    settings = Settings(topic_prefix=prefix)
    await prepare_cluster(bootstrap, settings)
    service = CenterService(store, shipped_duty(), bootstrap=bootstrap, topic=settings.topic,
                            webhooks=[], external_url="http://ewe.test", clock=clock)
    await service.start()
    try:
        await _produce(bootstrap, [
            (settings.topic("alerts"), None, record) if isinstance(record, bytes) else
            (settings.topic("alerts"), record["id"].encode(), orjson.dumps(record))
            for record in records])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            metrics = service.center.metrics.exposition().decode()
            handled = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                          if line.startswith("ewe_center_alert_changes_total{"))
            if handled >= len(records):
                break
            await asyncio.sleep(0.1)
        first = next(record for record in records if isinstance(record, dict))
        service.ledger.act(first["id"], "acknowledge", {}, actor="op")
    finally:
        await service.stop()
    return service


def test_redelivered_alert_records_are_recorded_once_and_chain_events_go_out(store, clock,
                                                                             broker):
    prefix = unique_prefix()
    fired = [alert_record(key=f"k{n}") for n in range(3)]
    resolved = alert_record(key="k0", change="resolved", at=T0 + MINUTE)
    records = [*fired, resolved, *fired, resolved]          # everything delivered twice
    service = asyncio.run(run_center(store, clock, broker.bootstrap, prefix, records))
    alerts = service.ledger.alerts(AlertFilter()).items
    assert sorted(alert["key"] for alert in alerts) == ["k0", "k1", "k2"]
    assert [event["kind"] for event in service.ledger.alert(fired[0]["id"])["timeline"]] == \
        ["fired", "resolved", "acknowledge"]

    values = consume(broker.bootstrap, f"{prefix}alert-events",
                     done=lambda values: len(values) >= 5, timeout=20, settle=0)
    kinds = sorted(orjson.loads(value)["kind"] for value in values)
    assert kinds == ["acknowledge", "fired", "fired", "fired", "resolved"]


def test_unreadable_alert_records_are_dead_lettered_and_the_rest_recorded(store, clock, broker):
    prefix = unique_prefix()
    good = alert_record()
    purple = {**alert_record(key="k9"), "severity": "purple"}
    service = asyncio.run(run_center(store, clock, broker.bootstrap, prefix,
                                     [b"not json", orjson.dumps(purple), good]))
    assert [alert["key"] for alert in service.ledger.alerts(AlertFilter()).items] == ["wl-1"]
    letters = [orjson.loads(value) for value in consume(
        broker.bootstrap, f"{prefix}dead-letter", done=lambda values: len(values) >= 2,
        timeout=20, settle=0)]
    assert sorted(letter["reason"].split(":")[1].strip() for letter in letters) == \
        ["not JSON", "severity"]


def test_alert_with_a_nul_character_in_its_place_is_recorded_not_lost(store, clock, broker):
    prefix = unique_prefix()
    odd = alert_record(building="B\u00001")
    service = asyncio.run(run_center(store, clock, broker.bootstrap, prefix, [odd]))
    assert service.ledger.alert(odd["id"])["location"]["building"] == "B\ufffd1"


def test_a_record_the_ledger_cannot_take_is_dead_lettered_and_its_batch_recorded(store, clock,
                                                                                 broker):
    prefix = unique_prefix()
    unstorable = alert_record(key="odd")
    unstorable["location"] = {"building": {"name": "B1"}}     # a level must be text
    records = [alert_record(key="a"), unstorable, alert_record(key="b")]    # one batch or three
    service = asyncio.run(run_center(store, clock, broker.bootstrap, prefix, records))
    assert sorted(a["key"] for a in service.ledger.alerts(AlertFilter()).items) == ["a", "b"]
    (letter,) = [orjson.loads(value) for value in consume(
        broker.bootstrap, f"{prefix}dead-letter", done=bool, timeout=20, settle=0)]
    assert letter["reason"].startswith("alert record: the ledger refused it")
