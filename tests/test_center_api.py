"""The center API on SQLite and the real PostgreSQL: roles, actions, refusals, lists, masking."""
from __future__ import annotations

import subprocess

import pytest
from center_records import MINUTE, alert_record, keep_contact, shipped_duty
from fastapi.testclient import TestClient
from tools import needs

from center.api.deps import Center
from center.app import create_app
from center.auth import ROLES, create_token, token_id
from center.ledger import Ledger
from engine.events import format_timestamp

PHONE = "13812345678"


class Api:
    def __init__(self, store, clock) -> None:
        self.ledger = Ledger(store, shipped_duty(), clock=clock)
        self.center = Center(self.ledger)
        self.client = TestClient(create_app(self.center))
        self.tokens = {role: create_token(store, role=role, name=f"{role}-1", now=clock())
                       for role in ROLES}

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def api(store, clock):
    return Api(store, clock)


@pytest.fixture
def alert(api):
    keep_contact(api.ledger.store, {"name": "张伟", "phone": PHONE})
    record = alert_record(report=True)
    api.ledger.ingest([record])
    return record


def silence_body(clock):
    return {"matchers": {"location.building": "B1", "severity": "yellow"},
            "reason": "pump works", "ends_at": format_timestamp(clock() + 60 * MINUTE)}


# -- roles ---------------------------------------------------------------------------------------
ENDPOINTS = [
    ("GET", "/v1/alerts", None, "read"),
    ("GET", "/v1/alerts/{alert}", None, "read"),
    ("GET", "/v1/alerts/counts", None, "read"),
    ("GET", "/v1/areas", None, "read"),
    ("GET", "/v1/me", None, "read"),
    ("GET", "/v1/duty", None, "read"),
    ("POST", "/v1/alerts/{alert}/actions", {"action": "comment", "text": "seen"}, "act"),
    ("POST", "/v1/alerts/{alert}/feedback", {"satisfaction": 5}, "act"),
    ("GET", "/v1/incidents", None, "read"),
    ("GET", "/v1/incidents/{incident}", None, "read"),
    ("GET", "/v1/silences", None, "read"),
    ("POST", "/v1/silences", "silence", "silence"),
    ("DELETE", "/v1/silences/{silence}", None, "silence"),
    ("POST", "/v1/tokens", {"role": "viewer", "name": "wall screen"}, "tokens"),
    ("GET", "/v1/tokens", None, "tokens"),
    ("DELETE", "/v1/tokens/{token}", None, "tokens"),
]
ALLOWED = {"read": set(ROLES) - {"ingest"}, "act": {"operator", "admin"},
           "silence": {"operator", "rule_author", "admin"}, "tokens": {"admin"}}


def _resolve(api, alert, clock, path, body):
    silence = api.ledger.add_silence(matchers={"rule": "x"}, starts_at=clock(),
                                     ends_at=clock() + MINUTE, author="a", role="admin",
                                     reason="r")
    spare = create_token(api.ledger.store, role="viewer", name="spare", now=clock())
    path = path.format(alert=alert["id"], silence=silence["id"], token=token_id(spare),
                       incident=api.ledger.alert(alert["id"])["incident_id"])
    return path, silence_body(clock) if body == "silence" else body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "permission"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_each_endpoint_admits_exactly_the_roles_allowed(api, alert, clock, role, method, path,
                                                        body, permission):
    path, body = _resolve(api, alert, clock, path, body)
    response = api.call(method, path, role, json=body)
    if role in ALLOWED[permission]:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403
        assert f"role {role} may not" in response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body", "permission"),
                         [*ENDPOINTS, ("GET", "/v1/stream", None, "read")],
                         ids=[f"{m} {p}" for m, p, _, _ in [*ENDPOINTS, ("GET", "/v1/stream",
                                                                         None, "read")]])
def test_each_endpoint_refuses_a_caller_without_token(api, alert, clock, method, path, body,
                                                      permission):
    path, body = _resolve(api, alert, clock, path, body)
    response = api.call(method, path, None, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_refused_at_once(api):
    created = api.call("POST", "/v1/tokens", json={"role": "viewer", "name": "wall screen"}).json()
    viewer = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/alerts", headers=viewer).status_code == 200
    assert api.call("DELETE", f"/v1/tokens/{created['id']}").status_code == 204
    response = api.client.get("/v1/alerts", headers=viewer)
    assert response.status_code == 401
    assert response.json()["error"].startswith(f"token {created['id']} was revoked at ")


def test_a_token_past_its_expiry_is_refused_with_the_instant(api, clock):
    created = api.call("POST", "/v1/tokens", json={"role": "viewer", "name": "night shift",
                                                   "expires_in": "8h"}).json()
    viewer = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/alerts", headers=viewer).status_code == 200   # now cached
    clock.advance(8 * 3_600_000)
    response = api.client.get("/v1/alerts", headers=viewer)
    assert (response.status_code, response.json()["error"]) == (
        401, f"token {created['id']} expired at {created['expires_at']}: sign in with a new one")


def test_an_expiry_that_is_no_duration_is_refused(api):
    response = api.call("POST", "/v1/tokens", json={"role": "viewer", "name": "x",
                                                    "expires_in": "soon"})
    assert response.status_code == 422 and "expires_in" in response.text


def test_token_list_shows_who_holds_what_and_never_the_token(api, clock):
    created = api.call("POST", "/v1/tokens", json={"role": "operator", "name": "desk 3"}).json()
    api.call("DELETE", f"/v1/tokens/{created['id']}")
    listed = {row["id"]: row for row in api.call("GET", "/v1/tokens").json()}
    assert listed[created["id"]]["name"] == "desk 3" and listed[created["id"]]["revoked_at"]
    assert listed[token_id(api.tokens["admin"])]["revoked_at"] is None
    assert created["token"] not in api.call("GET", "/v1/tokens").text


def test_revoking_an_unknown_token_is_404_with_its_id(api):
    response = api.call("DELETE", "/v1/tokens/tok-000000000000")
    assert (response.status_code, response.json()["error"]) == (404, "no token 'tok-000000000000'")


def test_unknown_token_is_refused(api):
    response = api.client.get("/v1/alerts", headers={"Authorization": "Bearer ewe_forged"})
    assert (response.status_code, response.json()["error"]) == (401, "unknown token")


def test_a_viewer_cannot_acknowledge(api, alert):
    response = api.call("POST", f"/v1/alerts/{alert['id']}/actions", "viewer",
                        json={"action": "acknowledge"})
    assert response.status_code == 403
    assert api.ledger.alert(alert["id"])["state"] == "open"


def test_tokens_are_stored_only_as_digests(api, store):
    with store.transaction() as tx:
        stored = {row["hash"] for row in tx.execute("SELECT hash FROM tokens").fetchall()}
    assert not stored & set(api.tokens.values())


# -- chain through the API -----------------------------------------------------------------------
def test_operator_walks_the_whole_chain(api, alert):
    steps = [{"action": "acknowledge"},
             {"action": "dispatch", "department": "市排水管理处", "handler": "王工"},
             {"action": "resolve", "note": "积水已排除"},
             {"action": "reply", "message": "您反映的积水已处理"},
             {"action": "close"}]
    states = [api.call("POST", f"/v1/alerts/{alert['id']}/actions", "operator",
                       json=step).json()["state"] for step in steps]
    assert states == ["acknowledged", "dispatched", "resolved", "replied", "closed"]


def test_invalid_transition_is_409_with_the_reason(api, alert):
    response = api.call("POST", f"/v1/alerts/{alert['id']}/actions", "operator",
                        json={"action": "reply", "message": "done"})
    assert response.status_code == 409
    assert response.json() == {"error": "cannot reply an open alert: reply follows resolve",
                               "code": "invalid_transition"}


def test_dispatch_without_department_is_422_naming_the_field(api, alert):
    api.call("POST", f"/v1/alerts/{alert['id']}/actions", "operator",
             json={"action": "acknowledge"})
    response = api.call("POST", f"/v1/alerts/{alert['id']}/actions", "operator",
                        json={"action": "dispatch"})
    assert response.status_code == 422 and response.json() == {
        "error": "dispatch needs a non-empty 'department'", "code": "invalid_request"}


def test_unknown_action_is_422(api, alert):
    response = api.call("POST", f"/v1/alerts/{alert['id']}/actions", json={"action": "escalate"})
    assert response.status_code == 422


def test_action_on_unknown_alert_is_404(api):
    response = api.call("POST", "/v1/alerts/nope/actions", json={"action": "acknowledge"})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_detail_has_evidence_incident_department_sla_and_timeline(api, alert):
    detail = api.call("GET", f"/v1/alerts/{alert['id']}").json()
    assert detail["department"] == "市排水管理处"
    assert detail["incident"]["alert_count"] == 1
    assert [entry["step"] for entry in detail["sla"]] == ["acknowledge", "dispatch", "resolve"]
    assert [event["kind"] for event in detail["timeline"]] == ["fired"]
    assert len(detail["evidence"]) == 2


def test_feedback_out_of_range_is_422(api, alert):
    response = api.call("POST", f"/v1/alerts/{alert['id']}/feedback", json={"satisfaction": 9})
    assert response.status_code == 422


def test_empty_feedback_is_400(api, alert):
    response = api.call("POST", f"/v1/alerts/{alert['id']}/feedback", json={})
    assert (response.status_code, response.json()["code"]) == (400, "bad_request")


# -- lists ---------------------------------------------------------------------------------------
def test_list_filters_by_area_and_severity(api):
    api.ledger.ingest([alert_record(key="a", district="渝中区", severity="red"),
                       alert_record(key="b")])
    response = api.call("GET", "/v1/alerts", "viewer",
                        params={"district": "渝中区", "severity": "red"})
    assert [item["key"] for item in response.json()["items"]] == ["a"]


def test_list_time_range_needs_a_zone(api):
    response = api.call("GET", "/v1/alerts", params={"since": "2026-07-01T00:00:00"})
    assert response.status_code == 400
    assert "needs a time zone" in response.json()["error"]


@pytest.mark.parametrize(("since", "status"), [
    ("2000-01-01T00:30:00+08:00", 200),   # 1999 in UTC, yet written in a year the schema takes
    ("2199-12-31T23:00:00-05:00", 200),
    ("1999-12-31T23:30:00-08:00", 400),   # 2000 in UTC, yet written in a year it refuses
])
def test_a_time_bound_is_judged_by_the_year_it_is_written_in(api, since, status):
    response = api.call("GET", "/v1/alerts", params={"since": since})
    assert response.status_code == status, response.text


def test_list_pages_with_a_cursor(api, clock):
    for n in range(5):
        api.ledger.ingest([alert_record(key=f"k{n}")])
        clock.advance(1)
    first = api.call("GET", "/v1/alerts", params={"limit": 3}).json()
    second = api.call("GET", "/v1/alerts",
                      params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [i["key"] for i in first["items"] + second["items"]] == ["k4", "k3", "k2", "k1", "k0"]
    assert second["next_cursor"] is None


def test_silence_with_an_unknown_field_is_422(api):
    response = api.call("POST", "/v1/silences", json={
        "matchers": {"place": "B1"}, "reason": "r", "ends_at": "2099-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert "unknown field 'place'" in response.text


@pytest.mark.parametrize(("role", "matchers", "hours", "refusal"), [
    ("rule_author", {"location.building": "B1"}, 1, "role rule_author may not silence red"),
    ("rule_author", {"severity": "red"}, 1, "role rule_author may not silence red alerts"),
    ("operator", {"severity": "red"}, 5, "may silence red alerts for 4h at most, not 5h"),
    ("rule_author", {"severity": "yellow"}, 25, "may silence yellow alerts for 1d at most"),
    ("admin", {"severity": "blue"}, 24 * 365 * 70, "for 4w2d at most"),
])
def test_a_silence_beyond_the_roles_limit_for_its_severity_is_refused(api, clock, role,
                                                                     matchers, hours, refusal):
    body = {"matchers": matchers, "reason": "works",
            "ends_at": format_timestamp(clock() + hours * 60 * MINUTE)}
    response = api.call("POST", "/v1/silences", role, json=body)
    assert response.status_code == 403 and refusal in response.json()["error"]


def test_an_operator_may_silence_a_red_alert_for_an_hour(api, clock):
    body = {"matchers": {"location.building": "B1"}, "reason": "pump works",
            "ends_at": format_timestamp(clock() + 60 * MINUTE)}
    assert api.call("POST", "/v1/silences", "operator", json=body).status_code == 201


def test_silence_records_its_author(api, clock):
    created = api.call("POST", "/v1/silences", "rule_author", json=silence_body(clock)).json()
    assert (created["author"], created["state"]) == ("rule_author-1", "active")


# -- personal data -------------------------------------------------------------------------------
def test_viewer_sees_reporter_contacts_masked(api, alert):
    detail = api.call("GET", f"/v1/alerts/{alert['id']}", "viewer").json()
    assert detail["evidence"][1]["reporter"] == {"name": "张*", "phone": "138****5678"}
    assert detail["evidence"][1]["text"] == "小区门口积水，请回电138****5678"
    assert PHONE not in str(detail)


def test_operator_sees_reporter_contacts_to_reply(api, alert):
    detail = api.call("GET", f"/v1/alerts/{alert['id']}", "operator").json()
    assert detail["evidence"][1]["reporter"]["phone"] == PHONE
    assert detail["evidence"][1]["text"] == f"小区门口积水，请回电{PHONE}"


def test_contacts_appear_neither_in_metrics_nor_in_the_openapi_examples(api, alert):
    api.call("POST", f"/v1/alerts/{alert['id']}/actions", json={"action": "acknowledge"})
    assert PHONE not in api.client.get("/metrics").text


def test_openapi_is_published(api):
    spec = api.client.get("/openapi.json").json()
    assert "/v1/alerts/{alert_id}/actions" in spec["paths"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v1/alerts?category=%00", None),
    ("POST", "/v1/alerts/{alert}/actions", {"action": "comment", "text": "a\u0000b"}),
    ("POST", "/v1/tokens", {"role": "viewer", "name": "\u0000"}),
])
def test_nul_characters_are_refused_with_a_4xx(api, alert, method, path, body):
    response = api.call(method, path.format(alert=alert["id"]), json=body)
    assert response.status_code in (400, 422)
    assert "NUL characters are not allowed" in response.text


def test_metrics_count_the_ledgers_alerts_by_severity_and_chain_state(api, alert):
    api.call("POST", f"/v1/alerts/{alert['id']}/actions", json={"action": "acknowledge"})
    text = api.client.get("/metrics").text
    assert f'ewe_center_alerts{{severity="{alert["severity"]}",state="acknowledged"}} 1.0' in text


@needs("promtool", "prometheus")
def test_the_centers_metrics_pass_promtool(api, alert):
    api.call("POST", f"/v1/alerts/{alert['id']}/actions", json={"action": "acknowledge"})
    check = subprocess.run(["promtool", "check", "metrics"],
                           input=api.client.get("/metrics").content, capture_output=True,
                           timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_a_request_that_does_not_fit_the_schema_gets_422_in_the_one_error_shape(api):
    response = api.call("GET", "/v1/alerts?limit=0", "viewer")
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    assert response.json()["error"].startswith("query.limit: ")


def test_an_unknown_path_gets_404_and_a_wrong_method_405_in_the_one_error_shape(api):
    assert api.client.get("/v1/nowhere").json() == {"error": "Not Found", "code": "not_found"}
    response = api.call("PUT", "/v1/alerts", "viewer")
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


def test_an_empty_cursor_is_the_first_page(api, alert):
    first = api.call("GET", "/v1/alerts?cursor=", "viewer")
    assert first.status_code == 200 and first.json() == api.call(
        "GET", "/v1/alerts", "viewer").json()

