"""Exports for the monthly report: CSV a spreadsheet opens, JSON lines, a summary per
department and category; the ledger left as it was, residents' contacts left out."""
from __future__ import annotations

import csv
import io

import orjson
import pytest
from center_records import MINUTE, alert_record, keep_contact
from test_center_api import Api

from center.exports import EXPORT_COLUMNS
from center.ledger import AlertFilter

PHONE = "13912345678"


@pytest.fixture
def api(store, clock):
    return Api(store, clock)


def work_through_the_chain(api, clock, record, *, satisfaction=None):
    steps = [("acknowledge", {}), ("dispatch", {"department": "市排水管理处", "handler": "李工"}),
             ("resolve", {"note": "疏通雨水口"}), ("reply", {"message": "积水已排除，感谢反映"}),
             ("close", {})]
    for action, fields in steps:
        clock.advance(10 * MINUTE)
        api.ledger.act(record["id"], action, fields, actor="值班员")
    if satisfaction is not None:
        api.ledger.feedback(record["id"], actor="值班员", satisfaction=satisfaction)


def csv_rows(response) -> list[dict]:
    assert response.content.startswith(b"\xef\xbb\xbf")        # the byte-order mark
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_opens_with_its_columns_and_the_chinese_text_intact(api, clock):
    record = alert_record(district="渝中区")
    api.ledger.ingest([record])
    work_through_the_chain(api, clock, record, satisfaction=4)
    response = api.call("GET", "/v1/alerts/export", "viewer", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    [row] = csv_rows(response)
    assert tuple(row) == EXPORT_COLUMNS
    assert (row["district"], row["department"], row["handler"], row["reply"]) == (
        "渝中区", "市排水管理处", "李工", "积水已排除，感谢反映")


def test_a_row_tells_when_each_step_was_taken_and_how_long_it_took(api, clock):
    record = alert_record()
    api.ledger.ingest([record])
    work_through_the_chain(api, clock, record, satisfaction=5)
    [row] = csv_rows(api.call("GET", "/v1/alerts/export"))
    assert (row["acknowledged_at"], row["closed_at"]) == ("2026-07-01T08:10:00+08:00",
                                                          "2026-07-01T08:50:00+08:00")
    assert (row["minutes_to_acknowledge"], row["minutes_to_close"], row["satisfaction"],
            row["state"]) == ("10.0", "50.0", "5", "closed")


def test_the_export_is_filtered_like_the_list(api):
    api.ledger.ingest([alert_record(key="a", severity="red"), alert_record(key="b"),
                       alert_record(key="c", severity="red", district="渝中区")])
    response = api.call("GET", "/v1/alerts/export",
                        params={"severity": "red", "district": "渝中区"})
    assert [row["id"] for row in csv_rows(response)] == [
        alert_record(key="c", severity="red")["id"]]


def test_exporting_leaves_every_alert_in_the_ledger(api):
    api.ledger.ingest([alert_record(key=f"k{n}") for n in range(3)])
    api.call("GET", "/v1/alerts/export", params={"format": "jsonl"})
    assert api.ledger.counts(AlertFilter())["total"] == 3


def test_residents_contacts_are_in_no_export(api):
    keep_contact(api.ledger.store, {"name": "张伟", "phone": PHONE})
    api.ledger.ingest([alert_record(report=True)])
    for form in ("csv", "jsonl"):
        response = api.call("GET", "/v1/alerts/export", "admin", params={"format": form})
        assert response.status_code == 200
        assert PHONE not in response.text and "张伟" not in response.text


def test_json_lines_are_one_object_an_alert_with_the_csvs_columns(api):
    api.ledger.ingest([alert_record(key=f"k{n}") for n in range(3)])
    response = api.call("GET", "/v1/alerts/export", params={"format": "jsonl"})
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert len(lines) == 3 and all(tuple(line) == EXPORT_COLUMNS for line in lines)


def test_a_long_export_is_read_in_batches_oldest_first_none_twice(api, clock):
    for n in range(7):
        api.ledger.ingest([alert_record(key=f"k{n}")])
        clock.advance(1)
    batches = list(api.ledger.export(AlertFilter(), "Asia/Shanghai", batch=3))
    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert [row["id"] for batch in batches for row in batch] == [
        alert_record(key=f"k{n}")["id"] for n in range(7)]


def test_the_summary_gives_each_department_and_category_its_figures(api, clock):
    fast, slow = alert_record(key="fast"), alert_record(key="slow", severity="red")
    api.ledger.ingest([fast, slow])
    work_through_the_chain(api, clock, fast, satisfaction=5)
    clock.advance(60 * MINUTE)          # past red's 5 minutes to acknowledge
    api.ledger.tick()
    work_through_the_chain(api, clock, slow, satisfaction=2)
    api.ledger.ingest([alert_record(key="gas", category="gas")])
    answer = api.call("GET", "/v1/alerts/summary", "viewer").json()
    drainage = next(group for group in answer["groups"] if group["department"] == "市排水管理处")
    assert {key: drainage[key] for key in ("category", "alerts", "closed", "sla_missed",
                                           "mean_satisfaction", "median_minutes_to_close")} == {
        "category": "waterlogging", "alerts": 2, "closed": 2, "sla_missed": 1,
        "mean_satisfaction": 3.5, "median_minutes_to_close": (50.0 + 160.0) / 2}
    assert answer["total"]["alerts"] == 3


def test_exports_need_a_token(api):
    assert api.call("GET", "/v1/alerts/export", None).status_code == 401
    assert api.call("GET", "/v1/alerts/summary", None).status_code == 401
