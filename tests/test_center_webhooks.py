"""Webhooks out: Alertmanager-compatible and signed JSON, retried, dead-lettered, to a real
HTTP receiver on loopback."""
from __future__ import annotations

import asyncio

import orjson
import pytest
from center_records import MINUTE, T0, alert_record, keep_contact, shipped_duty
from receivers import Receiver

from center.ledger import Ledger
from center.metrics import CenterMetrics
from center.webhooks import Deliverer, Webhook, signature

SECRET = "s3cret"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def deliverer(store, clock, webhook, dead=None):
    return Deliverer(store, {webhook.name: webhook}, clock=clock, metrics=CenterMetrics(),
                     external_url="http://ewe.test", attempts=3, first_backoff_ms=1_000,
                     on_dead=dead.append if dead is not None else None)


def deliver(target, *, ticks=1, clock=None, step_ms=0):
    async def run():
        for _ in range(ticks):
            await target.deliver_due()
            if clock is not None:
                clock.advance(step_ms)
        await target.close()
    asyncio.run(run())


def test_notices_carry_no_reporter_contacts(store, clock, receiver):
    keep_contact(store, {"name": "张伟", "phone": "13812345678"})
    record = alert_record(report=True)
    Ledger(store, shipped_duty(), clock=clock, targets=["ops"]).ingest([record])
    deliver(deliverer(store, clock, Webhook("ops", receiver.url, "json")))
    ((_, body),) = receiver.received
    assert b"13812345678" not in body and "张伟".encode() not in body


def test_signed_json_notice_verifies_with_the_shared_secret(store, clock, receiver):
    Ledger(store, shipped_duty(), clock=clock, targets=["ops"]).ingest([alert_record()])
    deliver(deliverer(store, clock, Webhook("ops", receiver.url, "json", SECRET)))
    ((headers, body),) = receiver.received
    assert headers["X-Ewe-Signature"] == signature(SECRET, headers["X-Ewe-Timestamp"], body)
    assert orjson.loads(body)["kind"] == "firing"


def test_alertmanager_payload_has_the_fields_receivers_read(store, clock, receiver):
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=["am"])
    ledger.ingest([alert_record(), alert_record(change="resolved", at=T0 + MINUTE)])
    deliver(deliverer(store, clock, Webhook("am", receiver.url, "alertmanager")))
    firing, resolved = (orjson.loads(body) for _, body in receiver.received)
    assert (firing["version"], firing["status"], resolved["status"]) == \
        ("4", "firing", "resolved")
    alert = resolved["alerts"][0]
    assert alert["labels"]["alertname"] == "waterlogging.level.high"
    assert alert["endsAt"] == "2026-07-01T00:01:00.000Z"
    assert firing["receiver"] == "市排水管理处"


def test_failed_delivery_is_retried_until_it_succeeds(store, clock):
    receiver = Receiver(failures=2)
    try:
        Ledger(store, shipped_duty(), clock=clock, targets=["ops"]).ingest([alert_record()])
        deliver(deliverer(store, clock, Webhook("ops", receiver.url)), ticks=4, clock=clock,
                step_ms=5_000)
    finally:
        receiver.close()
    assert len(receiver.received) == 1


def test_notice_is_dead_lettered_after_the_last_attempt(store, clock):
    receiver = Receiver(failures=100)
    dead: list[dict] = []
    try:
        Ledger(store, shipped_duty(), clock=clock, targets=["ops"]).ingest([alert_record()])
        deliver(deliverer(store, clock, Webhook("ops", receiver.url), dead), ticks=6,
                clock=clock, step_ms=10_000)
    finally:
        receiver.close()
    assert [(item["reason"], item["attempts"], item["error"]) for item in dead] == \
        [("webhook", 3, "HTTP 503")]
    with store.transaction() as tx:
        assert tx.execute("SELECT status FROM notifications").fetchone()["status"] == "dead"


def test_a_retry_waits_for_its_backoff(store, clock):
    receiver = Receiver(failures=1)
    try:
        Ledger(store, shipped_duty(), clock=clock, targets=["ops"]).ingest([alert_record()])
        deliver(deliverer(store, clock, Webhook("ops", receiver.url)), ticks=3)
    finally:
        receiver.close()
    assert receiver.received == []       # the clock did not move past the 1 s backoff
