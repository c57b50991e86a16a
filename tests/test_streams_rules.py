"""Hot reload: `ewe rules push` publishes a pack; workers switch at an event time."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from streaming import ROOT, RULES_KEY, WorkerProcess, consume, produce, unique_prefix

MINUTE = 60_000

HELD_WATER = """
  - id: test.water.held
    on: reading
    match: {type: water_level}
    key: device_id
    when: value >= 0.15
    for: 5m
    severity: yellow
"""

VERSION_1 = "rules:" + HELD_WATER + """
  - id: test.smoke
    on: reading
    match: {type: smoke}
    key: device_id
    when: value >= 1
    severity: yellow
"""

VERSION_2 = "rules:" + HELD_WATER + """
  - id: test.smoke
    on: reading
    match: {type: smoke}
    key: device_id
    when: value >= 5
    severity: yellow
  - id: test.gas
    on: reading
    match: {type: gas}
    key: device_id
    when: value >= 1
    severity: orange
"""


def pack_dir(folder: Path, text: str) -> str:
    folder.mkdir()
    (folder / "pack.yaml").write_text(text)
    return str(folder)


def reading(event_id: str, kind: str, t: int, value: float) -> dict:
    return {"kind": "reading", "id": event_id, "ts": t, "device_id": event_id, "type": kind,
            "value": value, "location": {"grid": "G-reload"}}


def push(broker, prefix: str, folder: str, at: int | None = None,
         key: str = RULES_KEY) -> subprocess.CompletedProcess:
    at_args = ["--at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at / 1000))] if at else []
    return subprocess.run([sys.executable, "-m", "ewe", "rules", "push", folder, "--broker",
                           broker.url, "--topic-prefix", prefix, *at_args],
                          capture_output=True, text=True, cwd=ROOT, timeout=30,
                          env={**os.environ, "EWE_RULES_KEY": key})


def wait_for_metric(worker: WorkerProcess, line_start: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not any(line.startswith(line_start) and not line.endswith(" 0.0")
                  for line in worker.get("/metrics").decode().splitlines()):
        assert time.monotonic() < deadline, f"no {line_start} in time"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def reloaded(broker, tmp_path_factory):
    """A worker on version 1; version 2 pushed to apply from T0 + 5 minutes; then a broken
    pack pushed and a malformed rules record."""
    folder = tmp_path_factory.mktemp("reload")
    prefix = unique_prefix()
    t0 = (time.time_ns() // 1_000_000 - 120 * MINUTE) // 1000 * 1000
    worker = WorkerProcess(folder / "data", broker=broker.url, prefix=prefix,
                           rules=[pack_dir(folder / "v1", VERSION_1)]).start()
    try:
        worker.post("/v1/events?wait=1", orjson.dumps([
            reading("wl-1", "water_level", t0, 0.4), reading("s-1", "smoke", t0 + MINUTE, 2)]))
        pushed = push(broker, prefix, pack_dir(folder / "v2", VERSION_2), at=t0 + 5 * MINUTE)
        assert pushed.returncode == 0, pushed.stderr
        wait_for_metric(worker, 'ewe_rule_packs_total{outcome="applied"}')
        broken = push(broker, prefix, pack_dir(folder / "bad", VERSION_2.replace("5m", "5 min")))
        produce(broker.bootstrap, [(f"{prefix}rules", b"pack", b'{"files": "not a pack"}')])
        # A pack that would fire test.smoke on s-2, signed with another key.
        forged = push(broker, prefix, pack_dir(folder / "forged", VERSION_1),
                      at=t0 + 5 * MINUTE + 30_000, key="not the cluster's key")
        assert forged.returncode == 0, forged.stderr
        wait_for_metric(worker, 'ewe_rule_packs_total{outcome="refused"} 2.0')
        worker.post("/v1/events", orjson.dumps([
            reading("s-2", "smoke", t0 + 6 * MINUTE, 2), reading("g-1", "gas", t0 + 6 * MINUTE, 2),
            reading("wl-1", "water_level", t0 + 7 * MINUTE, 0.4),
            reading("s-3", "smoke", t0 + 8 * MINUTE, 7)]))
        values = consume(broker.bootstrap, f"{prefix}alerts", timeout=20, settle=2,
                         done=lambda values: len(values) >= 4)
    finally:
        worker.stop()
    fired = {(alert["rule"], alert["key"]): alert for alert in map(orjson.loads, values)}
    return fired, broken, t0


def test_events_before_the_switch_time_are_evaluated_by_the_old_pack(reloaded):
    fired, _, _ = reloaded
    assert ("test.smoke", "s-1") in fired


def test_a_pack_not_signed_with_the_clusters_key_is_refused(reloaded):
    fired, _, _ = reloaded
    assert ("test.smoke", "s-2") not in fired


def test_events_from_the_switch_time_on_are_evaluated_by_the_new_pack(reloaded):
    fired, _, _ = reloaded
    assert ("test.gas", "g-1") in fired and ("test.smoke", "s-2") not in fired


def test_unchanged_rule_keeps_its_state_across_the_switch(reloaded):
    fired, _, t0 = reloaded
    alert = fired["test.water.held", "wl-1"]
    assert alert["starts_at"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t0 / 1000))


def test_invalid_pack_is_refused_by_push_with_file_and_line(reloaded):
    _, broken, _ = reloaded
    assert broken.returncode == 1
    assert "pack.yaml:" in broken.stderr and "bad duration" in broken.stderr
    assert "nothing was pushed" in broken.stderr


def test_malformed_rules_record_leaves_the_running_pack_in_place(reloaded):
    fired, _, _ = reloaded
    assert ("test.smoke", "s-3") in fired
