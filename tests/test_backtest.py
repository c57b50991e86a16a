"""Scoring a replay against known incidents and operator feedback."""
from __future__ import annotations

from engine.backtest import score

INCIDENT = {"type": "fire", "category": "fire", "start": "2026-07-01T08:00:00+08:00",
            "end": "2026-07-01T08:40:00+08:00", "key": "B0001",
            "location": {"building": "B0001"}, "devices": ["sm-1", "t-1"]}


def alert(alert_id: str, at: str, *, category: str = "fire", key: str = "sm-1",
          building: str = "B0001", rule: str = "fire.smoke.alarm") -> dict:
    return {"id": alert_id, "rule": rule, "key": key, "change": "fired", "at": at,
            "labels": {"category": category}, "location": {"building": building},
            "evidence": []}


def test_an_alert_of_the_right_category_and_place_after_the_start_catches_the_incident():
    report = score([alert("a1", "2026-07-01T00:02:00.000Z")], [INCIDENT])
    assert (report.by_type["fire"].caught, report.by_type["fire"].lead_times_s) == (1, [120.0])
    assert report.matched == 1 and report.unmatched_by_rule == {}


def test_the_first_of_several_alerts_gives_the_lead_time():
    alerts = [alert("a2", "2026-07-01T00:05:00.000Z"),
              alert("a1", "2026-07-01T00:01:00.000Z", key="B0001", rule="fire.seq")]
    assert score(alerts, [INCIDENT]).by_type["fire"].lead_times_s == [60.0]


def test_wrong_category_wrong_place_or_wrong_time_do_not_catch_it():
    alerts = [alert("c", "2026-07-01T00:02:00.000Z", category="gas"),
              alert("p", "2026-07-01T00:02:00.000Z", key="sm-9", building="B0002"),
              alert("t", "2026-06-30T23:00:00.000Z")]
    report = score(alerts, [INCIDENT])
    assert report.by_type["fire"].recall == 0.0
    assert report.unmatched_by_rule == {"fire.smoke.alarm": 3}


def test_resolved_and_escalated_records_are_not_counted_as_new_alerts():
    records = [alert("a1", "2026-07-01T00:02:00.000Z"),
               dict(alert("a1", "2026-07-01T00:03:00.000Z"), change="escalated"),
               dict(alert("a1", "2026-07-01T00:09:00.000Z"), change="resolved")]
    assert score(records, [INCIDENT]).episodes == 1


def test_operator_feedback_gives_each_rules_precision():
    records = [alert("a1", "2026-07-01T00:02:00.000Z"), alert("a2", "2026-07-01T03:00:00.000Z"),
               alert("a3", "2026-07-01T04:00:00.000Z")]
    feedback = [{"alert_id": "a1", "verdict": "true_positive"},
                {"alert_id": "a2", "verdict": "false_positive"},
                {"alert_id": "a3", "verdict": "false_positive"},
                {"alert_id": "unknown", "verdict": "false_positive"}]
    report = score(records, feedback)
    assert report.feedback_by_rule == {"fire.smoke.alarm": (1, 2)}
    assert any("precision 33%" in line for line in report.lines())
