"""State that survives: a worker killed with SIGKILL, a rebalance to a second worker, and a
restart of the embedded `ewe run`."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import orjson
import pytest
from streaming import (
    ROOT,
    RULES_KEY,
    WorkerProcess,
    batched_records,
    changes,
    consume,
    produce,
    replayed,
    unique_prefix,
)

from engine.simulation import simulate
from streams.checkpoint import CheckpointStore
from streams.records import split

LATENESS_MS = 120_000
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def city():
    start = (time.time_ns() // 1_000_000 - 30 * 24 * HOUR_MS) // HOUR_MS * HOUR_MS
    return [orjson.dumps(event) for event in
            simulate(seed=3, duration_ms=6 * HOUR_MS, devices=250, start_ms=start).events]


def decoded(values: list[bytes]) -> list[dict]:
    return [orjson.loads(value) for value in values]


def read_alerts(bootstrap: str, prefix: str, expected: set, timeout: float = 60) -> set:
    values = consume(bootstrap, f"{prefix}alerts", timeout=timeout, settle=1.5,
                     done=lambda values: len(changes(decoded(values))) >= len(expected))
    return changes(decoded(values))


def metric(worker: WorkerProcess, name: str) -> float:
    total = 0.0
    for line in worker.get("/metrics").decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def replaying_worker(broker, tmp_path, prefix: str, timeout: float = 20) -> WorkerProcess:
    """A worker set up as `ewe replay` is: the replay's lateness, no clock-driven watermark."""
    return WorkerProcess(tmp_path, broker=broker.url, prefix=prefix, lateness="2m",
                         idle_after="0s").start(timeout)


def partitions_of(worker: WorkerProcess) -> list[int]:
    return json.loads(worker.get("/healthz"))["partitions"]


def test_alerts_after_a_kill_9_and_restart_equal_those_of_an_uninterrupted_run(
        broker, shipped_pack, city, tmp_path):
    expected = changes(replayed(city, shipped_pack, LATENESS_MS))
    prefix = unique_prefix()
    records = batched_records(city, prefix)
    half = len(records) // 2
    first = replaying_worker(broker, tmp_path, prefix)
    produce(broker.bootstrap, records[:half])
    store = CheckpointStore(tmp_path / "checkpoints")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
            (checkpoint := store.load(p)) and sum(checkpoint.offsets.values())
            for p in range(4)):
        time.sleep(0.2)
    produce(broker.bootstrap, records[half:])
    first.kill()

    second = replaying_worker(broker, tmp_path, prefix, timeout=60)
    print("restart ready in", second.started_in)
    try:
        live = read_alerts(broker.bootstrap, prefix, expected)
        reread = metric(second, "ewe_records_total")
    finally:
        second.stop()
    assert live == expected
    assert 0 < reread <= len(records)   # it resumed from checkpoints, not from scratch


def test_two_workers_share_four_partitions_and_give_the_alerts_of_one(broker, shipped_pack, city,
                                                                      tmp_path):
    expected = changes(replayed(city, shipped_pack, LATENESS_MS))
    prefix = unique_prefix()
    workers = [replaying_worker(broker, tmp_path, prefix) for _ in range(2)]
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            shares = [partitions_of(worker) for worker in workers]
            if sorted(shares[0] + shares[1]) == [0, 1, 2, 3] and all(shares):
                break
            time.sleep(0.3)
        assert all(len(share) == 2 for share in shares), shares
        produce(broker.bootstrap, batched_records(city, prefix))
        live = read_alerts(broker.bootstrap, prefix, expected)
        records = [metric(worker, "ewe_records_total") for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    assert live == expected
    assert all(count > 0 for count in records), records


def test_state_moves_with_partitions_when_a_second_worker_joins_mid_stream(
        broker, shipped_pack, city, tmp_path):
    expected = changes(replayed(city, shipped_pack, LATENESS_MS))
    prefix = unique_prefix()
    records = batched_records(city, prefix)
    half = len(records) // 2
    first = replaying_worker(broker, tmp_path, prefix)
    second = None
    try:
        produce(broker.bootstrap, records[:half])
        wait_until_evaluated(first, sum(len(split(value)) for _, _, value in records[:half]))
        second = replaying_worker(broker, tmp_path, prefix)
        deadline = time.monotonic() + 40
        while len(partitions_of(second)) != 2:
            assert time.monotonic() < deadline, "no rebalance"
            time.sleep(0.3)
        produce(broker.bootstrap, records[half:])
        live = read_alerts(broker.bootstrap, prefix, expected)
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
    assert live == expected


def wait_until_evaluated(worker: WorkerProcess, events: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while metric(worker, "ewe_events_total") + metric(worker, "ewe_late_events_total") < events:
        assert time.monotonic() < deadline, "events not evaluated in time"
        time.sleep(0.2)


# -- the embedded `ewe run` ----------------------------------------------------------------------
def embedded_bootstrap(run: WorkerProcess) -> str:
    found = re.search(r"broker embedded kafka://(\S+)", run.log.read_text())
    assert found, run.log.read_text()
    return found.group(1)


def water(event_id: str, t: int, value: float) -> bytes:
    return orjson.dumps({"kind": "reading", "id": event_id, "ts": t, "device_id": "wl-restart",
                         "type": "water_level", "value": value,
                         "location": {"grid": "G-restart", "building": "B1"}})


def wait_for_events(run: WorkerProcess, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while metric(run, "ewe_events_total") < count:
        assert time.monotonic() < deadline, "events not evaluated in time"
        time.sleep(0.1)


def test_ewe_run_is_ready_within_10_s_and_sigterm_stops_it_and_its_broker(tmp_path):
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    bootstrap = embedded_bootstrap(run)
    started_in, stopped_in = run.started_in, run.stop()
    assert (started_in < 10, stopped_in < 10) == (True, True), (started_in, stopped_in)
    host, port = bootstrap.split(":")
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()


def test_for_timer_started_before_an_embedded_restart_fires_after_it(tmp_path):
    t0 = (time.time_ns() // 1_000_000 - HOUR_MS) // 1000 * 1000
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    try:
        run.post("/v1/events", water("w1", t0, 0.4))
        wait_for_events(run, 1)
    finally:
        run.stop()

    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    try:
        run.post("/v1/events", water("w2", t0 + 6 * 60_000, 0.4))
        values = consume(embedded_bootstrap(run), "ewe.alerts", done=bool, timeout=15, settle=0)
    finally:
        run.stop()
    [alert] = decoded(values)
    # waterlogging.level.high holds for 5 minutes: the episode began before the restart.
    assert alert["rule"] == "waterlogging.level.high"
    assert alert["starts_at"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t0 / 1000))
    assert [item["id"] for item in alert["evidence"]][0] == "w1"


HELD_WATER = """rules:
  - id: test.water.held
    on: reading
    match: {type: water_level}
    key: device_id
    when: value >= 0.3
    for: 5m
    severity: yellow
"""


def test_a_pushed_pack_and_its_rules_state_outlive_an_embedded_restart(tmp_path):
    pushed = tmp_path / "pushed"
    pushed.mkdir()
    (pushed / "pack.yaml").write_text(HELD_WATER)
    t0 = (time.time_ns() // 1_000_000 - HOUR_MS) // 1000 * 1000
    run = WorkerProcess(tmp_path / "data", broker=None, prefix="ewe.", command="run").start()
    try:
        subprocess.run([sys.executable, "-m", "ewe", "rules", "push", str(pushed), "--broker",
                        f"kafka://{embedded_bootstrap(run)}"], check=True, cwd=ROOT, timeout=30,
                       env={**os.environ, "EWE_RULES_KEY": RULES_KEY})
        deadline = time.monotonic() + 15
        while metric(run, "ewe_rule_packs_total") < 1:
            assert time.monotonic() < deadline, "pack not applied"
            time.sleep(0.2)
        run.post("/v1/events", water("w1", t0, 0.4))
        wait_for_events(run, 1)
    finally:
        run.stop()

    run = WorkerProcess(tmp_path / "data", broker=None, prefix="ewe.", command="run").start()
    try:
        run.post("/v1/events", water("w2", t0 + 6 * 60_000, 0.4))
        values = consume(embedded_bootstrap(run), "ewe.alerts", done=bool, timeout=15, settle=0)
    finally:
        run.stop()
    [alert] = decoded(values)
    assert alert["rule"] == "test.water.held"     # not the shipped waterlogging rules
    assert [item["id"] for item in alert["evidence"]][0] == "w1"


def test_ewe_run_demo_prints_the_board_s_address_and_the_city_s_alerts_within_seconds(tmp_path):
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run")
    run.args.append("--demo")
    run.start()
    try:
        deadline = time.monotonic() + 30
        while not re.search(r"^\S+\+08:00\s+fired\s", run.log.read_text(), re.MULTILINE):
            assert time.monotonic() < deadline, "no alert within 30 s:\n" + run.log.read_text()
            time.sleep(0.5)
    finally:
        run.stop()
    assert f"operations board {run.url}/ " in run.log.read_text()
    assert "\x1b" not in run.log.read_text()    # no terminal escapes, redirected or not


def test_the_demo_city_has_incidents_going_on_at_every_minute_of_its_day():
    from engine.events import parse_timestamp
    from engine.simulation import DEFAULT_START_MS
    from streams.demo import DAY_MS, demo_day

    day = demo_day(3, DEFAULT_START_MS, 1000, quiet_ms=0)
    spans = [(parse_timestamp(incident["start"]), parse_timestamp(incident["end"]))
             for incident in day.truth]
    going_on = [sum(start <= minute < end for start, end in spans)
                for minute in range(DEFAULT_START_MS + 5 * 60_000, DEFAULT_START_MS + DAY_MS,
                                    60_000)]
    assert min(going_on) >= 1 and sum(going_on) / len(going_on) > 10


def test_ewe_run_prints_a_working_admin_token_on_first_start_only(tmp_path):
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    try:
        tokens = re.findall(r"admin token (ewe_\S+)", run.log.read_text())
        request = urllib.request.Request(f"{run.url}/v1/alerts",
                                         headers={"Authorization": f"Bearer {tokens[0]}"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            status = answer.status
    finally:
        run.stop()
    again = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    again.stop()
    printed_again = re.findall(r"admin token (ewe_\S+)", again.log.read_text())
    assert (len(tokens), status, printed_again) == (1, 200, [])

