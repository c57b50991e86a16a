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

    def handle(self, topic, offset, value):
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
    worker.post("/v1/events?wait=1", orjson.dumps(reading("r1", 500.0)))
    deadline = time.monotonic() + 30
    while worker.process.poll() is None:
        assert time.monotonic() < deadline, "the worker did not stop"
        time.sleep(0.2)
    worker.stop()
    log = worker.log.read_text()
    assert worker.process.returncode == 70
    assert "RuntimeError: the runner's bug" in log and "Traceback" in log
