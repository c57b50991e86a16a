"""Each office sees its own: a token scoped to an area sees, counts, exports, follows and acts
on that area's alerts only; outside it an alert is not there (404), on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn
from center_records import MINUTE, alert_record
from test_center_api import Api
from test_center_feed import read_events

from center.app import create_app
from center.auth import create_token
from engine.events import format_timestamp
from streams.broker import free_port

INSIDE = alert_record(key="yz-1", district="渝中区", building="YZ-B1", severity="red")
OUTSIDE = alert_record(key="jb-1", district="江北区", building="JB-B1", severity="red")


class Scoped(Api):
    def __init__(self, store, clock) -> None:
        super().__init__(store, clock)
        for role in ("viewer", "operator", "rule_author"):
            self.tokens[f"yz-{role}"] = create_token(store, role=role, name=f"渝中区 {role}",
                                                     now=clock(), scope=("district", "渝中区"))
        self.ledger.ingest([INSIDE, OUTSIDE])


@pytest.fixture
def api(store, clock):
    return Scoped(store, clock)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_a_scoped_token_lists_its_areas_alerts_only(api):
    assert ids(api.call("GET", "/v1/alerts", "yz-viewer")) == [INSIDE["id"]]
    assert set(ids(api.call("GET", "/v1/alerts", "viewer"))) == {OUTSIDE["id"], INSIDE["id"]}


def test_asking_for_another_area_by_filter_finds_nothing(api):
    assert ids(api.call("GET", "/v1/alerts", "yz-viewer", params={"district": "江北区"})) == []


def test_an_alert_outside_the_scope_is_not_found_not_forbidden(api):
    assert api.call("GET", f"/v1/alerts/{INSIDE['id']}", "yz-viewer").status_code == 200
    answer = api.call("GET", f"/v1/alerts/{OUTSIDE['id']}", "yz-viewer")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_actions_and_feedback_outside_the_scope_are_refused_and_change_nothing(api):
    for path, body in (("actions", {"action": "acknowledge"}), ("feedback", {"satisfaction": 5})):
        answer = api.call("POST", f"/v1/alerts/{OUTSIDE['id']}/{path}", "yz-operator", json=body)
        assert answer.status_code == 404
    assert api.call("GET", f"/v1/alerts/{OUTSIDE['id']}").json()["state"] == "open"
    inside = api.call("POST", f"/v1/alerts/{INSIDE['id']}/actions", "yz-operator",
                      json={"action": "acknowledge"})
    assert inside.json()["state"] == "acknowledged"


def test_counts_and_the_area_tree_count_the_scope_only(api):
    assert api.call("GET", "/v1/alerts/counts", "yz-viewer").json()["total"] == 1
    assert api.call("GET", "/v1/alerts/counts", "viewer").json()["total"] == 2   # kept apart
    tree = api.call("GET", "/v1/areas", "yz-viewer").json()
    assert "江北区" not in str(tree) and "渝中区" in str(tree)


def test_exports_and_the_summary_hold_the_scope_only(api):
    csv_text = api.call("GET", "/v1/alerts/export", "yz-viewer").content.decode("utf-8-sig")
    assert INSIDE["id"] in csv_text and OUTSIDE["id"] not in csv_text
    assert api.call("GET", "/v1/alerts/summary", "yz-viewer").json()["total"]["alerts"] == 1


def test_incidents_outside_the_scope_are_neither_listed_nor_found(api):
    incident_of = {record["id"]: api.call("GET", f"/v1/alerts/{record['id']}").json()[
        "incident_id"] for record in (INSIDE, OUTSIDE)}
    listed = ids(api.call("GET", "/v1/incidents", "yz-viewer"))
    assert listed == [incident_of[INSIDE["id"]]]
    assert api.call("GET", f"/v1/incidents/{incident_of[OUTSIDE['id']]}",
                    "yz-viewer").status_code == 404
    assert api.call("GET", f"/v1/incidents/{incident_of[INSIDE['id']]}",
                    "yz-viewer").status_code == 200


def silence(api, clock, role, matchers):
    return api.call("POST", "/v1/silences", role, json={
        "matchers": matchers, "reason": "维修", "ends_at": format_timestamp(clock() + 60 * MINUTE)})


def test_a_scoped_silence_is_held_to_its_area(api, clock):
    made = silence(api, clock, "yz-operator", {"location.building": "YZ-B1"})
    assert made.status_code == 201
    assert made.json()["matchers"] == {"location.building": "YZ-B1",
                                       "location.district": "渝中区"}
    other = silence(api, clock, "yz-operator", {"location.district": "江北区"})
    assert (other.status_code, other.json()["code"]) == (403, "forbidden")


def test_silences_of_other_areas_are_neither_listed_nor_ended(api, clock):
    citywide = silence(api, clock, "operator", {"severity": "blue"}).json()
    own = silence(api, clock, "yz-operator", {"severity": "blue"}).json()
    listed = [item["id"] for item in api.call("GET", "/v1/silences", "yz-viewer").json()]
    assert listed == [own["id"]]
    assert api.call("DELETE", f"/v1/silences/{citywide['id']}", "yz-operator").status_code == 404


def test_me_names_the_tokens_area(api):
    assert api.call("GET", "/v1/me", "yz-viewer").json()["scope"] == {"district": "渝中区"}
    assert api.call("GET", "/v1/me", "viewer").json()["scope"] is None


@pytest.mark.parametrize(("body", "refusal"), [
    ({"role": "admin", "scope": {"district": "渝中区"}}, "an admin token covers the whole city"),
    ({"role": "ingest", "scope": {"street": "解放碑街道"}}, "an ingest token covers the whole"),
])
def test_admin_and_ingest_tokens_cannot_be_scoped(api, body, refusal):
    answer = api.call("POST", "/v1/tokens", json={"name": "x", **body})
    assert answer.status_code == 422 and refusal in answer.json()["error"]


def test_an_admin_makes_a_scoped_token_that_works_at_once(api):
    made = api.call("POST", "/v1/tokens", json={"role": "viewer", "name": "街道",
                                                "scope": {"district": "江北区"}}).json()
    assert made["scope"] == {"district": "江北区"}
    answer = api.client.get("/v1/alerts", headers={"Authorization": f"Bearer {made['token']}"})
    assert ids(answer) == [OUTSIDE["id"]]
    listed = {row["id"]: row["scope"] for row in api.call("GET", "/v1/tokens").json()}
    assert listed[made["id"]] == {"district": "江北区"}


def test_the_live_feed_of_a_scoped_token_carries_its_areas_changes_only(store, clock):
    api = Scoped(store, clock)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api.center), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/stream", timeout=10, headers={
                "Authorization": f"Bearer {api.tokens['yz-viewer']}"}) as response:
            lines = response.iter_lines()
            assert next(lines).startswith(":")
            api.ledger.act(OUTSIDE["id"], "acknowledge", {}, actor="江北区")
            api.ledger.act(INSIDE["id"], "acknowledge", {}, actor="渝中区")
            [(kind, change)] = read_events(lines, 1)
    finally:
        server.should_exit = True
        thread.join(10)
    assert (kind, change["alert"]["id"]) == ("event", INSIDE["id"])
