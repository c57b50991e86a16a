"""Who may feed the service: the HTTP ingest takes an ingest token by default, and the first
tokens are printed by the start that can use them."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import orjson
import pytest
from streaming import ROOT, WorkerProcess, unique_prefix


def event(event_id: str) -> bytes:
    return orjson.dumps({"kind": "reading", "id": event_id, "ts": 1782864000000,
                         "device_id": "d1", "type": "smoke", "value": 0.0})


def post(run: WorkerProcess, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{run.url}/v1/events", data=event("e1"), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def token_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ewe", "token", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    data = tmp_path_factory.mktemp("guarded")
    run = WorkerProcess(data, broker=None, prefix="ewe.", command="run",
                        open_ingest="false").start()
    tokens = dict(re.findall(r"first start: (\w+) token (ewe_\S+)", run.log.read_text()))
    yield run, tokens
    run.stop()


def test_ewe_run_refuses_events_without_a_token(guarded):
    run, _ = guarded
    status, answer = post(run, None)
    assert status == 401 and "ewe token create --role ingest" in answer["error"]


def test_ewe_run_takes_events_with_the_ingest_token_printed_at_first_start(guarded):
    run, tokens = guarded
    assert set(tokens) == {"admin", "ingest"}
    assert post(run, tokens["ingest"])[0] == 202


def test_a_token_of_a_person_may_not_post_events(guarded):
    run, _ = guarded
    created = token_command("create", "--role", "operator", "--data-dir", str(run.data_dir))
    status, answer = post(run, created.stdout.strip())
    assert status == 403 and "role operator may not post events" in answer["error"]


def test_a_worker_without_a_ledger_refuses_events_and_says_how_to_admit_them(broker, tmp_path):
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=unique_prefix(),
                           open_ingest="false").start()
    try:
        status, answer = post(worker, None)
    finally:
        worker.stop()
    assert status == 401 and "--store URL" in answer["error"] and "--open-ingest" in answer["error"]


def test_a_first_start_that_fails_creates_no_token_and_the_next_one_prints_them(tmp_path):
    busy = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy.port))
        taken.listen()
        failed = subprocess.run(busy.args, env=busy.env, cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
    assert failed.returncode != 0 and "cannot listen" in failed.stderr
    assert token_command("list", "--data-dir", str(tmp_path)).stdout == ""
    run = WorkerProcess(tmp_path, broker=None, prefix="ewe.", command="run").start()
    run.stop()
    assert re.search(r"first start: admin token ewe_\S+", run.log.read_text())
