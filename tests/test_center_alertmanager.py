"""ewe's alerts in an existing Alertmanager: posted to its API v2, kept alive while they fire,
resolved with their end, and untroubled by its silences. Against the real Alertmanager (Debian's
`prometheus-alertmanager`) on a free loopback port, read back with `amtool`."""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time

import httpx
import pytest
from center_records import MINUTE, alert_record, shipped_duty

from center.ledger import Ledger
from center.metrics import CenterMetrics
from center.webhooks import Deliverer, Webhook
from engine.events import parse_timestamp

pytestmark = pytest.mark.skipif(shutil.which("prometheus-alertmanager") is None
                                or shutil.which("amtool") is None,
                                reason="needs prometheus-alertmanager and amtool (Debian "
                                       "package prometheus-alertmanager; .ci/run installs it)")

RESEND_MS = 60_000


class Alertmanager:
    def __init__(self, directory) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = directory / "alertmanager.yml"
        config.write_text("route: {receiver: nowhere, group_wait: 1s}\n"
                          "receivers: [{name: nowhere}]\n")
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={config}",
             f"--storage.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("Alertmanager did not become ready")

    def amtool(self, *arguments: str) -> str:
        return subprocess.run(["amtool", f"--alertmanager.url={self.url}", *arguments],
                              check=True, capture_output=True, text=True, timeout=30).stdout

    def alerts(self, *flags: str) -> list[dict]:
        return json.loads(self.amtool("alert", "query", "-o", "json", *flags))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def alertmanager(tmp_path):
    running = Alertmanager(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def now_clock(clock):
    clock.now = int(time.time() * 1000)    # Alertmanager judges endsAt by its own clock
    return clock


def deliverer(store, clock, alertmanager, dead=None):
    return Deliverer(store, {"am": Webhook("am", f"{alertmanager.url}/api/v2/alerts",
                                           "alertmanager-api")},
                     clock=clock, metrics=CenterMetrics(), external_url="http://ewe.test",
                     resend_ms=RESEND_MS, on_dead=dead.append if dead is not None else None)


def run(coroutine):
    return asyncio.run(coroutine)


async def deliver(target: Deliverer, ledger: Ledger | None = None) -> int:
    try:
        sent = await target.deliver_due()
        if ledger is not None:
            sent += await target.resend_firing(ledger.firing_notices)
        return sent
    finally:
        await target.close()


def record(clock, change="fired", severity="orange"):
    starts = clock.now - 2 * MINUTE
    return alert_record("fire.smoke.alarm", "smoke-17", change=change, starts_at=starts,
                        at=starts + MINUTE if change == "resolved" else starts, severity=severity,
                        category="fire", district="江北区")


def test_a_firing_alert_is_listed_by_amtool_with_its_labels_and_board_link(
        store, now_clock, alertmanager):
    ledger = Ledger(store, shipped_duty(), clock=now_clock, targets=["am"])
    ledger.ingest([record(now_clock)])
    assert run(deliver(deliverer(store, now_clock, alertmanager))) == 1
    (listed,) = alertmanager.alerts()
    assert {name: listed["labels"][name] for name in ("alertname", "severity", "district",
                                                      "category", "key")} == {
        "alertname": "fire.smoke.alarm", "severity": "orange", "district": "江北区",
        "category": "fire", "key": "smoke-17"}
    assert listed["generatorURL"].startswith("http://ewe.test/board/#/alert/")
    assert parse_timestamp(listed["endsAt"]) >= now_clock.now + 3 * RESEND_MS


def test_a_resolved_alert_leaves_amtools_list(store, now_clock, alertmanager):
    ledger = Ledger(store, shipped_duty(), clock=now_clock, targets=["am"])
    ledger.ingest([record(now_clock)])
    run(deliver(deliverer(store, now_clock, alertmanager)))
    assert len(alertmanager.alerts()) == 1
    ledger.ingest([record(now_clock, change="resolved")])
    run(deliver(deliverer(store, now_clock, alertmanager)))
    assert alertmanager.alerts() == []


def test_a_firing_alert_is_posted_again_each_resend_so_alertmanager_keeps_it(
        store, now_clock, alertmanager):
    ledger = Ledger(store, shipped_duty(), clock=now_clock, targets=["am"])
    ledger.ingest([record(now_clock)])
    target = deliverer(store, now_clock, alertmanager)

    async def rounds() -> list[int]:
        posted = [await target.resend_firing(ledger.firing_notices)]  # the first round posts
        now_clock.advance(RESEND_MS // 2)
        posted.append(await target.resend_firing(ledger.firing_notices))   # too soon
        now_clock.advance(RESEND_MS // 2)
        posted.append(await target.resend_firing(ledger.firing_notices))
        await target.close()
        return posted

    assert run(rounds()) == [1, 0, 1]
    (listed,) = alertmanager.alerts()
    assert parse_timestamp(listed["endsAt"]) >= now_clock.now + 3 * RESEND_MS


def test_an_alertmanager_silence_mutes_the_alert_there_and_ewe_goes_on_posting(
        store, now_clock, alertmanager):
    ledger = Ledger(store, shipped_duty(), clock=now_clock, targets=["am"])
    alertmanager.amtool("silence", "add", "alertname=fire.smoke.alarm", "--comment=drill",
                        "--author=duty officer", "--duration=1h")
    ledger.ingest([record(now_clock)])
    dead: list = []
    assert run(deliver(deliverer(store, now_clock, alertmanager, dead), ledger)) == 2
    assert alertmanager.alerts() == [] and dead == []
    (silenced,) = alertmanager.alerts("--silenced")
    assert silenced["status"]["state"] == "suppressed"
