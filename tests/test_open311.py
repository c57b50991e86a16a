"""Open311 GeoReport v2, as a client written from the specification uses it: services, a
request posted as a form with an api_key, read back, worked through the chain by the center,
closed with the reply in `status_notes`; and every error in the standard's shape."""
from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from streaming import ROOT, WorkerProcess, unique_prefix
from test_center_api import Api
from test_center_end_to_end import wait_for

from center import open311
from engine.pack import Pack
from ewe.shipped import SHIPPED_RULES

BASE = "/open311/v2"


def token(tmp_path, role: str) -> str:
    return subprocess.run([sys.executable, "-m", "ewe", "token", "create", "--role", role,
                           "--name", f"open311 {role}", "--data-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_a_request_is_posted_read_back_worked_and_closed_with_the_reply(broker, tmp_path):
    """One test on purpose: each step needs the state the previous one left."""
    api_key, operator = token(tmp_path, "ingest"), token(tmp_path, "operator")
    worker = WorkerProcess(tmp_path, broker=broker.url, prefix=unique_prefix(), center="true",
                           lateness="0s").start()
    try:
        client = httpx.Client(base_url=worker.url, timeout=10)
        services = client.get(f"{BASE}/services.json").json()
        leak = next(service for service in services if service["service_code"] == "water_leak")
        assert (leak["service_name"], leak["metadata"], leak["type"]) == ("漏水", True,
                                                                          "realtime")
        attributes = client.get(f"{BASE}/services/water_leak.json").json()["attributes"]
        assert {attribute["code"] for attribute in attributes} >= {"district", "grid"}

        posted = client.post(f"{BASE}/requests.json", data={
            "api_key": api_key, "service_code": "water_leak", "lat": "29.5630",
            "long": "106.5516", "address_string": "解放碑街道较场口社区3栋",
            "description": "3栋楼道漏水，已经流到电梯口",
            "attribute[district]": "渝中区", "attribute[grid]": "YZ-03-07",
            "attribute[building]": "B3", "first_name": "张", "phone": "13800000000"})
        assert posted.status_code == 200, posted.text
        [receipt] = posted.json()
        request_id = receipt["service_request_id"]
        [request] = client.get(f"{BASE}/requests/{request_id}.json").json()
        assert (request["status"], request["service_code"], request["lat"],
                request["address"]) == ("open", "water_leak", 29.563, "解放碑街道较场口社区3栋")
        assert request["requested_datetime"].endswith("+08:00")

        staff = httpx.Client(base_url=worker.url, timeout=10,
                             headers={"Authorization": f"Bearer {operator}"})
        alert = wait_for(lambda: staff.get("/v1/alerts", params={"category": "water_leak"})
                         .json()["items"], what="the request's alert")[0]
        [request] = client.get(f"{BASE}/requests/{request_id}.json").json()
        assert request["agency_responsible"] == alert["department"]
        reply = "楼道漏水已由物业关闭阀门并修复，感谢您的反映。"
        for step in ({"action": "acknowledge"},
                     {"action": "dispatch", "department": "社区居委会"},
                     {"action": "resolve", "note": "关闭阀门，更换水管"},
                     {"action": "reply", "message": reply},
                     {"action": "close"}):
            answer = staff.post(f"/v1/alerts/{alert['id']}/actions", json=step)
            assert answer.status_code == 200, answer.text
        [request] = client.get(f"{BASE}/requests/{request_id}.json").json()
        assert (request["status"], request["status_notes"]) == ("closed", reply)
        listed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
        assert [item["service_request_id"] for item in listed] == [request_id]
    finally:
        worker.stop()
    assert "13800000000" not in worker.log.read_text()


# -- errors, in the standard's shape ----------------------------------------------------------
@pytest.fixture
def api(store, clock):
    api = Api(store, clock)
    api.center.services = open311.services(Pack.load([str(SHIPPED_RULES)]).reading.categories)
    return api


def refused(answer, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    [error] = answer.json()
    assert error["code"] == status and words in error["description"]


def post(api, role: str | None = "ingest", **fields):
    form = {"service_code": "water_leak", "lat": "29.56", "long": "106.55", **fields}
    if role is not None:
        form["api_key"] = api.tokens[role]
    return api.client.post(f"{BASE}/requests.json", data=form)


@pytest.mark.parametrize(("fields", "role", "status", "words"), [
    ({}, None, 403, "api_key is required"),
    ({"api_key": "ewe_not-a-token"}, None, 403, "invalid api_key"),
    ({}, "viewer", 403, "may not post requests"),
    ({"service_code": ""}, "ingest", 400, "service_code is required"),
    ({"service_code": "unicorns"}, "ingest", 404, "no service 'unicorns'"),
    ({"lat": "", "long": ""}, "ingest", 400, "a location is required"),
    ({"lat": "north"}, "ingest", 400, "lat and long are WGS84 degrees"),
    ({"lat": "95"}, "ingest", 400, "lat is -90..90"),
    ({"description": "水" * 4001}, "ingest", 400, "longer than 4000"),
])
def test_a_bad_post_is_refused_in_the_standards_shape(api, fields, role, status, words):
    refused(post(api, role, **fields), status, words)


def test_a_good_post_where_no_events_are_taken_is_503_not_lost(api):
    refused(post(api), 503, "takes no events")
    assert api.ledger.service_requests() == []


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/requests/o311-nothing.json", {}, 404, "no service request 'o311-nothing'"),
    ("/services/unicorns.json", {}, 404, "no service 'unicorns'"),
    ("/services.xml", {}, 400, "ask for .json"),
    ("/requests.json", {"status": "pending"}, 400, "status is open, closed"),
    ("/requests.json", {"start_date": "2026-01-01T00:00:00+08:00",
                        "end_date": "2026-07-01T00:00:00+08:00"}, 400, "more than 90 days"),
    ("/requests.json", {"start_date": "yesterday"}, 400, "start_date"),
])
def test_a_bad_read_is_refused_in_the_standards_shape(api, path, params, status, words):
    refused(api.client.get(f"{BASE}{path}", params=params), status, words)


def test_requests_are_read_back_by_id_list(api, clock):
    for n in range(3):
        api.ledger.add_request({"id": f"o311-{n}", "service_code": "noise", "description": "吵",
                                "requested_at": clock() - n})
    listed = api.client.get(f"{BASE}/requests.json",
                            params={"service_request_id": "o311-0,o311-2"}).json()
    assert sorted(item["service_request_id"] for item in listed) == ["o311-0", "o311-2"]
    assert all(item["status"] == "open" and item["service_name"] == "噪音扰民" for item in listed)


def test_a_residents_satisfaction_comes_back_through_open311(api, clock):
    from center_records import alert_record

    api.ledger.add_request({"id": "t1", "service_code": "waterlogging", "description": "积水",
                            "requested_at": clock()})
    record = alert_record(report=True)              # its evidence names report t1
    api.ledger.ingest([record])
    answer = api.client.post(f"{BASE}/requests/t1/feedback.json",
                             data={"api_key": api.tokens["ingest"], "satisfaction": "4"})
    assert answer.status_code == 200, answer.text
    assert api.ledger.alert(record["id"])["feedback"]["satisfaction"] == 4


@pytest.mark.parametrize(("request_id", "score", "status", "words"), [
    ("t1", "6", 400, "satisfaction is 1 to 5"),
    ("o311-unknown", "4", 404, "no service request"),
    ("t1", "4", 409, "not been taken up yet"),
])
def test_a_bad_satisfaction_is_refused(api, clock, request_id, score, status, words):
    api.ledger.add_request({"id": "t1", "service_code": "noise", "description": "吵",
                            "requested_at": clock()})
    refused(api.client.post(f"{BASE}/requests/{request_id}/feedback.json",
                            data={"api_key": api.tokens["ingest"], "satisfaction": score}),
            status, words)


FIELDS = ["api_key", "service_code", "lat", "long", "address_string", "address_id",
          "description", "attribute[grid]", "attribute[district]", "first_name", "phone",
          "email", "media_url", "jurisdiction_id", "status", "start_date", "end_date",
          "service_request_id", "satisfaction"]


def test_hostile_forms_and_queries_get_an_answer_in_the_standards_shape(store, clock):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    api = Api(store, clock)
    api.center.services = open311.services(Pack.load([str(SHIPPED_RULES)]).reading.categories)
    text = st.text(max_size=300) | st.sampled_from(["water_leak", "29.5", "nan", "1e999", "",
                                                     "2026-07-01T08:00:00+08:00", "\x00"])
    forms = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=20), text, max_size=8)
    paths = st.sampled_from(["/requests.json", "/requests/x.json", "/requests/x/feedback.json",
                             "/services.json", "/services/water_leak.xml"])

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(forms, paths, st.booleans())
    def answered(form, path, as_post):
        if form.get("api_key") == "ingest":
            form["api_key"] = api.tokens["ingest"]
        if as_post:
            answer = api.client.post(f"{BASE}{path}", data=form)
        else:
            answer = api.client.get(f"{BASE}{path}", params=form)
        assert answer.status_code in (200, 400, 403, 404, 405, 409, 413, 503), answer.text
        if answer.status_code != 200 and answer.status_code != 405:
            errors = answer.json()
            assert isinstance(errors, list) and len(errors) == 1, (path, form, answer.text)
            assert set(errors[0]) == {"code", "description"}

    answered()
