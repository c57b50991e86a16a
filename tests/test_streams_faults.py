"""A rule that fails at run time is quarantined, never fatal; a fatal error is always logged.

The failures are real code failing inside a real worker: a detector with a bug (installed as a
plugin through `sitecustomize`, as an operator's own detector would be) and, for the fatal case,
a partition runner that raises."""
from __future__ import annotations

import re
import time

import orjson
from streaming import WorkerProcess

PLUGIN = '''
import os
from engine import anomaly


class FailsAbove100:
    """A detector with a bug that only a value above 100 reaches."""

    def __init__(self, warmup: int = 0) -> None:
        self.warmup = warmup

    def score_one(self, x):
        return 0.0

    def learn_one(self, x):
        if x["value"] > 100:
            raise ArithmeticError("the detector's bug")


anomaly.DETECTORS["fails_above_100"] = FailsAbove100

if os.environ.get("EWE_TEST_RUNNER_FAILS"):
    import streams.partition

    def handle(self, topic, offset, value, journal=None):
        raise RuntimeError("the runner's bug")

    streams.partition.PartitionRunner.handle = handle
'''

PACK = """
models:
  - id: broken
    detector: fails_above_100
    on: reading
    match: {type: water_level}
rules:
  - id: level.unusual
    on: reading
    match: {type: water_level}
    when: score("broken") > 0.5
    severity: blue
  - id: level.high
    on: reading
    match: {type: water_level}
    when: value > 150
    severity: red
"""


def reading(event_id: str, value: float) -> dict:
    return {"kind": "reading", "id": event_id, "ts": time.time_ns() // 1_000_000,
            "device_id": "wl-1", "type": "water_level", "value": value,
            "location": {"grid": "G-faults"}}


def worker_with_plugin(tmp_path, **settings) -> WorkerProcess:
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "sitecustomize.py").write_text(PLUGIN)
    (tmp_path / "pack.yaml").write_text(PACK)
    worker = WorkerProcess(tmp_path / "data", broker=None, prefix="ewe.", command="run",
                           rules=[str(tmp_path / "pack.yaml")], lateness="0s", **settings)
    worker.env["PYTHONPATH"] = str(tmp_path / "plugin")
    return worker


def test_a_model_failing_at_run_time_is_quarantined_counted_logged_once_and_shown(tmp_path):
    worker = worker_with_plugin(tmp_path).start()
    try:
        for n, value in enumerate((1.0, 200.0, 3.0, 300.0, 4.0)):
            worker.post("/v1/events?wait=1", orjson.dumps(reading(f"r{n}", value)))
        deadline = time.monotonic() + 20
        while "quarantined" not in (health := orjson.loads(worker.get("/healthz"))) or \
                not health["quarantined"]:
            assert time.monotonic() < deadline, health
            time.sleep(0.2)
        metrics = worker.get("/metrics").decode()
        deadline = time.monotonic() + 20
        while 'ewe_rule_firings_total{rule="level.high"} 2.0' not in metrics:
            assert time.monotonic() < deadline, "the other rules stopped"
            time.sleep(0.2)
            metrics = worker.get("/metrics").decode()
    finally:
        worker.stop()
    assert health["status"] == "ok"
    assert health["quarantined"]["broken"]["reason"] == "ArithmeticError: the detector's bug"
    assert 'ewe_rule_errors_total{rule="broken"} 1.0' in metrics
    log = worker.log.read_text()
    assert len(re.findall(r"rule broken failed at event time .* is quarantined", log)) == 1


def test_a_fatal_error_is_logged_with_its_traceback(tmp_path):
    worker = worker_with_plugin(tmp_path, test_runner_fails="1").start()
    try:
        try:
            worker.post("/v1/events", orjson.dumps(reading("r1", 500.0)))
        except OSError:   # the worker may stop before it answers
            pass
        deadline = time.monotonic() + 30
        while worker.process.poll() is None:
            assert time.monotonic() < deadline, "the worker did not stop"
            time.sleep(0.2)
    finally:
        worker.stop()
    log = worker.log.read_text()
    assert worker.process.returncode == 70
    assert "RuntimeError: the runner's bug" in log and "Traceback" in log


# -- what cannot be sent, and a broker that goes away ---------------------------------------------
def big_reports(prefix: str, count: int) -> bytes:
    return orjson.dumps([{"kind": "report", "id": f"{prefix}{n}", "ts": time.time_ns() // 1_000_000,
                          "text": "楼道漏水" * 150, "category": "complaint",
                          "location": {"grid": "G-big", "building": "B1"}}
                         for n in range(count)])


def test_requests_over_the_broker_limit_together_are_split_and_all_evaluated(broker, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from streaming import unique_prefix

    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=unique_prefix()).start()
    try:
        bodies = [big_reports(name, 5_000) for name in ("a", "b")]   # 2 × 9 MB, one partition
        assert all(len(body) > 9_000_000 for body in bodies)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda body: worker.post("/v1/events", body), bodies))
        assert [status for status, _ in answers] == [202, 202]
        deadline = time.monotonic() + 30
        while metric_total(worker, "ewe_events_total") < 10_000:
            assert time.monotonic() < deadline, metric_total(worker, "ewe_events_total")
            time.sleep(0.3)
        dead = metric_total(worker, "ewe_dead_letters_total")
    finally:
        worker.stop()
    assert dead == 0


def metric_total(worker: WorkerProcess, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in worker.get("/metrics").decode()
               .splitlines() if line.startswith((name + "{", name + " ")))


HUGE_TITLE = """
rules:
  - id: smoke.wordy
    title: "{title}"
    on: reading
    match: {{type: smoke}}
    when: value > 0
    severity: yellow
  - id: smoke.plain
    on: reading
    match: {{type: smoke}}
    when: value > 0
    severity: yellow
"""


def test_an_alert_too_large_to_send_is_dead_lettered_and_the_others_are_sent(broker, tmp_path):
    from streaming import consume, unique_prefix

    (tmp_path / "pack.yaml").write_text(HUGE_TITLE.format(title="长" * 150_000))
    prefix = unique_prefix()
    worker = WorkerProcess(tmp_path / "data", broker=broker.url, prefix=prefix,
                           rules=[str(tmp_path / "pack.yaml")], lateness="0s",
                           max_record_bytes="200000").start()
    try:
        event = {"kind": "reading", "id": "s1", "ts": time.time_ns() // 1_000_000,
                 "device_id": "smoke-1", "type": "smoke", "value": 1.0}
        worker.post("/v1/events?wait=1", orjson.dumps([event, {**event, "id": "s2",
                                                               "ts": event["ts"] + 1}]))
        alerts = consume(broker.bootstrap, f"{prefix}alerts", done=bool, timeout=20)
        letters = consume(broker.bootstrap, f"{prefix}dead-letter", done=bool, timeout=20)
    finally:
        worker.stop()
    assert [orjson.loads(alert)["rule"] for alert in alerts] == ["smoke.plain"]
    [letter] = map(orjson.loads, letters)
    assert letter["alert"]["rule"] == "smoke.wordy" and "not sent" in letter["reason"]


def test_a_dead_broker_makes_health_503_and_the_ingest_refuse(tmp_path):
    from streaming import unique_prefix

    from streams.broker import EmbeddedBroker

    own = EmbeddedBroker().start()
    worker = WorkerProcess(tmp_path, broker=own.url, prefix=unique_prefix()).start()
    try:
        own.process.kill()
        deadline = time.monotonic() + 20
        while (health := health_of(worker))["status"] == "ok":
            assert time.monotonic() < deadline, "health stayed ok"
            time.sleep(0.3)
        status, answer = worker.post("/v1/events", big_reports("x", 1))
    finally:
        worker.kill()
        own.stop()
    assert "broker" in " ".join(health["reasons"])
    assert status == 503 and "broker" in answer["error"]


def health_of(worker: WorkerProcess) -> dict:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"{worker.url}/healthz", timeout=5) as answer:
            return orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return orjson.loads(error.read())


def test_ewe_run_stops_saying_why_when_its_embedded_broker_dies(tmp_path):
    import os
    import signal

    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    children = open(f"/proc/{run.process.pid}/task/{run.process.pid}/children").read().split()
    tansu = next(pid for pid in map(int, children)
                 if "tansu" in open(f"/proc/{pid}/cmdline").read())
    os.kill(tansu, signal.SIGKILL)
    run.process.wait(20)
    run.stop()
    assert run.process.returncode == 69
    assert "the embedded broker exited" in run.log.read_text()


def test_a_checkpoint_that_cannot_be_restored_stops_the_worker_naming_the_file(tmp_path):
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run", partitions="1")
    run.start(timeout=60)
    run.post("/v1/events?wait=1", orjson.dumps(reading("r1", 1.0)))
    run.stop()
    checkpoint = tmp_path / "checkpoints" / "partition-0.ckpt"
    header, _, state = checkpoint.read_bytes().partition(b"\n")
    checkpoint.write_bytes(header + b"\n" + state[: len(state) // 2])   # damaged
    try:
        run.start(timeout=60)
    except AssertionError as stopped:
        assert "worker exited 70" in str(stopped)
    else:
        raise AssertionError("the worker went on without the partition's state")
    finally:
        run.stop()
    assert f"{checkpoint} cannot be restored" in run.log.read_text()
