"""Replies that reach residents: the reply step is delivered to a real HTTP receiver with the
reporter's contact, retried and dead-lettered like any notice, and the contact goes nowhere
else: not the other webhooks, the feed, the chain events, the metrics, the logs or the dead
letter."""
from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from center_records import alert_record, shipped_duty
from receivers import Receiver

from center.contacts import Contact, keep
from center.ledger import Ledger
from center.metrics import CenterMetrics
from center.webhooks import Deliverer, Webhook
from streams.settings import Settings, SettingsError

PHONE = "13812345678"
REPLY = "积水已排除，感谢您的反映。"
TEMPLATES = {"zh": "{name}您好：{message}【城市运行管理中心】", "en": "Dear {name}, {message}"}


@pytest.fixture
def receivers():
    running = {"sms": Receiver(), "ops": Receiver()}
    yield running
    for receiver in running.values():
        receiver.close()


def replied(store, clock, reporter=None) -> tuple[Ledger, str]:
    keep(store, [Contact("t1", reporter or {"name": "张伟", "phone": PHONE}, "小区门口积水")],
         now=clock())
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=["ops"], reply_targets=["sms"])
    record = alert_record(report=True)
    ledger.ingest([record])
    for action, fields in (("acknowledge", {}), ("dispatch", {"department": "市排水管理处"}),
                           ("resolve", {"note": "疏通"}), ("reply", {"message": REPLY})):
        ledger.act(record["id"], action, fields, actor="值班员")
    return ledger, record["id"]


def deliver(store, clock, hooks, *, attempts=6, dead=None, metrics=None):
    deliverer = Deliverer(store, {hook.name: hook for hook in hooks}, clock=clock,
                          metrics=metrics or CenterMetrics(), external_url="http://ewe.test",
                          attempts=attempts, first_backoff_ms=0,
                          on_dead=dead.append if dead is not None else None)

    async def run():
        for _ in range(attempts):
            await deliverer.deliver_due()
        await deliverer.close()
    asyncio.run(run())


def hooks(receivers):
    return [Webhook("sms", receivers["sms"].url, "reply", templates=TEMPLATES),
            Webhook("ops", receivers["ops"].url, "json")]


def test_the_reply_reaches_the_reporter_through_the_reply_channel(store, clock, receivers):
    _, alert_id = replied(store, clock)
    deliver(store, clock, hooks(receivers))
    [(_, body)] = receivers["sms"].received
    message = orjson.loads(body)
    assert message["to"] == {"name": "张伟", "phone": PHONE}
    assert message["text"] == f"张伟您好：{REPLY}【城市运行管理中心】"
    assert (message["alert_id"], message["report_id"]) == (alert_id, "t1")


def test_the_contact_goes_to_no_other_channel(store, clock, receivers, caplog):
    caplog.set_level(logging.DEBUG)
    feed: list[bytes] = []
    store.listen(feed.append)
    ledger, _ = replied(store, clock)
    metrics = CenterMetrics()
    deliver(store, clock, hooks(receivers), metrics=metrics)
    assert receivers["ops"].received                     # the other webhook got its notices
    elsewhere = [body for _, body in receivers["ops"].received] + feed + [
        orjson.dumps(event) for event in ledger.unpublished()] + [
        metrics.exposition(), caplog.text.encode()]
    assert not [text for text in elsewhere if PHONE.encode() in text]


def test_an_undeliverable_reply_is_dead_lettered_without_the_contact(store, clock):
    replied(store, clock)
    down = Receiver(failures=100)
    dead: list[dict] = []
    try:
        deliver(store, clock, [Webhook("sms", down.url, "reply")], attempts=2, dead=dead)
    finally:
        down.close()
    [letter] = [letter for letter in dead if letter["target"] == "sms"]
    assert letter["notice"] == {"kind": "reply", "alert_id": letter["notice"]["alert_id"],
                                "message": REPLY}
    assert PHONE not in orjson.dumps(letter).decode()


def test_a_failed_reply_is_sent_again(store, clock):
    replied(store, clock)
    flaky = Receiver(failures=1)
    try:
        deliver(store, clock, [Webhook("sms", flaky.url, "reply")], attempts=3)
        assert len(flaky.received) == 1
    finally:
        flaky.close()


def test_the_reply_channel_gets_replies_only(store, clock, receivers):
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=["ops"], reply_targets=["sms"])
    ledger.ingest([alert_record()])
    deliver(store, clock, hooks(receivers))
    assert receivers["sms"].received == [] and receivers["ops"].received


def test_a_reporter_who_left_no_phone_nor_email_is_sent_nothing(store, clock, receivers):
    replied(store, clock, reporter={"name": "匿名"})
    deliver(store, clock, hooks(receivers))
    assert receivers["sms"].received == []


def test_the_reply_is_in_the_reporters_language(store, clock, receivers):
    replied(store, clock, reporter={"name": "Ms Li", "phone": PHONE, "language": "en"})
    deliver(store, clock, hooks(receivers))
    [(_, body)] = receivers["sms"].received
    assert orjson.loads(body)["text"] == f"Dear Ms Li, {REPLY}"


def test_a_reply_template_without_the_message_is_refused_at_start():
    with pytest.raises(SettingsError, match="templates map a language to a text with"):
        Settings.resolve(environ={"EWE_WEBHOOKS": orjson.dumps([{
            "name": "sms", "url": "http://sms.test", "format": "reply",
            "templates": {"zh": "您好"}}]).decode()})
