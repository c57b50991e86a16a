"""A resident's phone number, ID-card number and name, in the report's contact details and in
its text: they reach the handler's view of the alert and nothing else: no topic, log, metric,
feed, webhook, replay output, archive or viewer's view; and the data dir is the owner's alone."""
from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from receivers import Receiver
from streaming import ROOT, WorkerProcess, consume

PHONE, ID_CARD, NAME = "13812345678", "500103199001011234", "张三"
SECRETS = (PHONE, ID_CARD, NAME, PHONE[-8:])


def report(n: int, now: int, **extra) -> dict:
    return {"kind": "report", "id": f"pii-{n}", "ts": now + n, "channel": "hotline",
            "text": f"3栋楼道漏水，请回电{PHONE}，身份证{ID_CARD}", "category": "water_leak",
            "location": {"district": "渝中区", "grid": "G-pii", "building": "B3"},
            "reporter": {"name": NAME, "phone": PHONE}, **extra}


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


class FeedReader(threading.Thread):
    """What a board's live feed receives, read on a thread of its own."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.lines, self.connected = url, token, [], threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", f"{self.url}/v1/stream", timeout=None,
                              headers={"Authorization": f"Bearer {self.token}"}) as response:
                for line in response.iter_lines():
                    self.connected.set()
                    self.lines.append(line)
        except httpx.HTTPError:   # the service stopped: the feed ends
            pass


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """`ewe run` with a webhook receiver, fed three leak reports and one broken one, the alert
    worked through to closed; then stopped, and its ledger archived."""
    data = tmp_path_factory.mktemp("pii")
    receiver = Receiver()
    run = WorkerProcess(data, broker=None, prefix="ewe.", command="run", lateness="0s",
                        webhooks=orjson.dumps([{"name": "ops", "url": receiver.url}]).decode(),
                        log_level="info").start()
    seen: dict = {"receiver": receiver}
    try:
        tokens = {role: subprocess.run(
            [sys.executable, "-m", "ewe", "token", "create", "--role", role, "--data-dir",
             str(data)], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
            for role in ("viewer", "operator")}
        feed = FeedReader(run.url, tokens["viewer"])
        feed.start()
        assert feed.connected.wait(10)
        now = time.time_ns() // 1_000_000
        reports = [report(n, now) for n in range(3)]
        broken = {**report(9, now), "ts": "yesterday"}
        assert run.post("/v1/events?wait=1", orjson.dumps([*reports, broken]))[0] == 202
        operator = httpx.Client(base_url=run.url, timeout=10,
                                headers={"Authorization": f"Bearer {tokens['operator']}"})
        viewer = httpx.Client(base_url=run.url, timeout=10,
                              headers={"Authorization": f"Bearer {tokens['viewer']}"})
        deadline = time.monotonic() + 30
        while not (items := operator.get("/v1/alerts", params={
                "rule": "reports.water-leak.burst"}).json()["items"]):
            assert time.monotonic() < deadline, "no alert in the ledger"
            time.sleep(0.3)
        alert_id = items[0]["id"]
        seen["operator view"] = operator.get(f"/v1/alerts/{alert_id}").json()
        seen["viewer view"] = viewer.get(f"/v1/alerts/{alert_id}").text
        # every alert the reports raised (the burst, and the problem they are) worked to closed
        worked = [item["id"] for item in operator.get("/v1/alerts").json()["items"]]
        for step in ({"action": "acknowledge"}, {"action": "dispatch", "department": "供水公司"},
                     {"action": "resolve", "note": "已修复"},
                     {"action": "reply", "message": "已处理，谢谢反映"}, {"action": "close"}):
            for worked_id in worked:
                answer = operator.post(f"/v1/alerts/{worked_id}/actions", json=step)
                assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 20
        while not receiver.received:
            assert time.monotonic() < deadline, "no webhook"
            time.sleep(0.2)
        time.sleep(2)     # the chain's events reach their topic, the feed its subscribers
        seen["metrics"] = run.get("/metrics").decode()
        bootstrap = run.log.read_text().split("broker embedded kafka://")[1].split()[0]
        for topic in ("events", "alerts", "alert-events", "dead-letter"):
            seen[f"topic ewe.{topic}"] = b"\n".join(consume(bootstrap, f"ewe.{topic}",
                                                            timeout=3, settle=1)).decode()
        seen["feed"] = "\n".join(feed.lines)
        seen["raw events"] = [*reports, broken]
    finally:
        run.stop()
    seen["log"] = run.log.read_text()
    seen["webhooks"] = b"\n".join(body for _, body in receiver.received).decode()
    receiver.close()
    archive = data / "archive.jsonl"
    archived = subprocess.run([sys.executable, "-m", "ewe", "center", "archive", "--before",
                               "2199-01-01T00:00:00Z", "--out", str(archive), "--data-dir",
                               str(data)], cwd=ROOT, capture_output=True, text=True)
    assert f"archived {len(worked)} alerts" in archived.stderr, archived.stderr
    seen["archive"] = archive.read_text()
    seen["data"] = data
    return seen


CHANNELS = ["topic ewe.events", "topic ewe.alerts", "topic ewe.alert-events",
            "topic ewe.dead-letter", "log", "metrics", "feed", "webhooks", "viewer view",
            "archive"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_no_personal_data_reaches_the_channel(fed, channel):
    assert fed[channel], f"nothing was seen on {channel}: the test would prove nothing"
    assert leaks(fed[channel]) == []


def test_the_handler_sees_the_reporter_and_the_original_text_to_reply(fed):
    reports = [item for item in fed["operator view"]["evidence"] if item["id"].startswith("pii")]
    assert reports and all(item["reporter"] == {"name": NAME, "phone": PHONE} and PHONE in
                           item["text"] and ID_CARD in item["text"] for item in reports)


def test_the_viewer_sees_the_text_masked(fed):
    assert "请回电138****5678，身份证500***********1234" in fed["viewer view"]


def test_a_replay_of_the_same_events_writes_no_personal_data(fed, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in fed["raw events"]))
    replayed = subprocess.run([sys.executable, "-m", "ewe", "replay", str(events)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert "reports.water-leak.burst" in replayed.stdout
    assert leaks(replayed.stdout + replayed.stderr) == []


def test_archiving_lets_go_of_the_contacts_of_what_it_archived(fed):
    import sqlite3
    with sqlite3.connect(fed["data"] / "center.db") as db:
        assert db.execute("SELECT count(*) FROM contacts").fetchone() == (0,)


def test_every_file_of_the_data_dir_is_its_owners_alone(fed):
    made_by_ewe = [path for path in [fed["data"], *Path(fed["data"]).rglob("*")]
                   if not path.name.startswith("worker-")]     # the test's own process log
    assert any(path.name == "center.db" for path in made_by_ewe)
    assert [str(path) for path in made_by_ewe if stat.S_IMODE(path.stat().st_mode) & 0o077] == []
