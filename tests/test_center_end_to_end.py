"""End to end on the real broker: events in over HTTP → alert in the ledger → the whole chain and
feedback through the API → chain events on the alert-events topic → the rule's precision metric."""
from __future__ import annotations

import subprocess
import sys
import time

import httpx
import orjson
from streaming import ROOT, WorkerProcess, consume, unique_prefix

RULE = "fire.smoke.alarm"


def wait_for(check, timeout: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_http_event_to_closed_alert_with_feedback_updates_the_rule_precision(broker, tmp_path):
    """One test on purpose: each step needs the state the previous one left."""
    prefix = unique_prefix()
    created = subprocess.run([sys.executable, "-m", "ewe", "token", "create", "--role",
                              "operator", "--name", "duty officer", "--data-dir", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    token = created.stdout.strip()
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=prefix, center="true",
                           lateness="0s").start()
    try:
        client = httpx.Client(base_url=worker.url, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        event = {"kind": "reading", "id": "e2e-1", "ts": time.time_ns() // 1_000_000,
                 "device_id": "smoke-e2e", "type": "smoke", "value": 3.0,
                 "location": {"district": "渝中区", "grid": "G-e2e", "building": "B9"}}
        assert client.post("/v1/events", content=orjson.dumps(event)).status_code == 202

        listed = wait_for(lambda: client.get("/v1/alerts", params={"rule": RULE}).json()["items"],
                          what="the alert in the ledger")
        alert_id = listed[0]["id"]
        steps = [{"action": "acknowledge"},
                 {"action": "dispatch", "department": "消防救援支队", "handler": "李队"},
                 {"action": "resolve", "note": "烟感误报已复位，现场无火情"},
                 {"action": "reply", "message": "已派员核查处置"},
                 {"action": "close"}]
        for step in steps:
            answer = client.post(f"/v1/alerts/{alert_id}/actions", json=step)
            assert answer.status_code == 200, answer.text
        answer = client.post(f"/v1/alerts/{alert_id}/feedback",
                             json={"verdict": "true_positive", "satisfaction": 5})
        assert answer.status_code == 200, answer.text

        def chain_on_topic(values):
            kinds = [e["kind"] for e in map(orjson.loads, values) if e["alert_id"] == alert_id]
            return kinds if "feedback" in kinds else []

        values = consume(broker.bootstrap, f"{prefix}alert-events", done=chain_on_topic,
                         timeout=30, settle=0)
        assert chain_on_topic(values) == ["fired", "acknowledge", "dispatch", "resolve", "reply",
                                          "close", "feedback"]

        precision = f'ewe_rule_precision{{rule="{RULE}"}} 1.0'
        wait_for(lambda: precision in client.get("/metrics").text, what=precision)

        # A second alarm, marked a false positive: precision halves, and the false positive
        # reaches the models' feedback hook (this rule reads no model, so none learns).
        elsewhere = {"district": "渝中区", "grid": "G-e2e-2", "building": "B10"}
        client.post("/v1/events", content=orjson.dumps({
            **event, "id": "e2e-2", "ts": time.time_ns() // 1_000_000,
            "device_id": "smoke-e2e-2", "location": elsewhere}))
        second = wait_for(lambda: [item for item in client.get(
            "/v1/alerts", params={"rule": RULE}).json()["items"] if item["id"] != alert_id],
            what="the second alert")[0]
        answer = client.post(f"/v1/alerts/{second['id']}/actions",
                             json={"action": "false_positive", "note": "detector test"})
        assert answer.json()["state"] == "false_positive"
        halved = f'ewe_rule_precision{{rule="{RULE}"}} 0.5'
        wait_for(lambda: halved in client.get("/metrics").text, what=halved)
        assert 'ewe_detector_feedback_total{outcome="nothing"} 1.0' in client.get("/metrics").text
        assert client.get(f"/v1/alerts/{alert_id}").json()["state"] == "closed"
        exposition = client.get("/metrics").content
        assert b'ewe_center_actions_total{action="close"} 1.0' in exposition
    finally:
        worker.stop()


def test_a_category_an_operator_corrects_is_learnt_by_the_running_worker(broker, tmp_path):
    """A report nothing classifies waits in the unclassified queue; the operator's category,
    given as feedback, reaches the worker, and the same text is classified so next time."""
    prefix = unique_prefix()
    created = subprocess.run([sys.executable, "-m", "ewe", "token", "create", "--role",
                              "operator", "--data-dir", str(tmp_path)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=prefix, center="true",
                           lateness="0s").start()
    try:
        client = httpx.Client(base_url=worker.url, timeout=10,
                              headers={"Authorization": f"Bearer {created.stdout.strip()}"})
        text = "小区门口的共享单车堆成山了"

        def send(number: int, building: str) -> None:
            report = {"kind": "report", "id": f"e2e-report-{number}",
                      "ts": time.time_ns() // 1_000_000, "text": text,
                      "location": {"district": "渝中区", "grid": "G-e2e", "building": building}}
            assert client.post("/v1/events", content=orjson.dumps(report)).status_code == 202

        send(1, "B1")
        [waiting] = wait_for(lambda: client.get("/v1/alerts", params={
            "category": "unclassified"}).json()["items"], what="the report in the queue")
        answer = client.post(f"/v1/alerts/{waiting['id']}/feedback",
                             json={"corrected_category": "parking"})
        assert answer.status_code == 200, answer.text
        learned = 'ewe_category_corrections_total{outcome="learned"} 1.0'
        wait_for(lambda: learned in client.get("/metrics").text, what=learned)
        send(2, "B7")
        [classified] = wait_for(lambda: client.get("/v1/alerts", params={
            "category": "parking", "rule": "reports.problem"}).json()["items"],
            what="the same text classified as corrected")
        evidence = client.get(f"/v1/alerts/{classified['id']}").json()["evidence"]
        assert evidence[0]["category_source"] == "operator"
    finally:
        worker.stop()


def test_the_published_spec_describes_post_v1_events_as_the_running_ingest_answers(
        broker, tmp_path):
    import jsonschema

    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=unique_prefix(), center="true",
                           lateness="0s").start()
    try:
        spec = httpx.get(f"{worker.url}/openapi.json", timeout=10).json()
        operation = spec["paths"]["/v1/events"]["post"]
        assert {"202", "400", "401", "403", "413", "429", "503"} <= set(operation["responses"])
        schemas = {"components": spec["components"]}
        event = {"kind": "reading", "id": "spec-1", "ts": time.time_ns() // 1_000_000,
                 "device_id": "d1", "type": "smoke", "value": 0.1}
        jsonschema.Draft202012Validator({**schemas, "$ref": "#/components/schemas/Event"}
                                        ).validate(event)
        answer = httpx.post(f"{worker.url}/v1/events", content=orjson.dumps([event, {"id": 1}]),
                            timeout=10)
        assert answer.status_code == 202
        jsonschema.Draft202012Validator({**schemas, "$ref": "#/components/schemas/Receipt"}
                                        ).validate(answer.json())
    finally:
        worker.stop()
