"""The duty list: routing, grouping, SLA deadlines, inhibition, and its refusals."""
from pathlib import Path

import pytest

from engine.duty import load_duty, load_duty_file
from engine.rulefile import RuleFileError

SHIPPED = Path(__file__).parent.parent / "rules" / "duty.yaml"


def alert(rule="waterlogging.level.high", category="waterlogging", **location):
    return {"id": rule + str(location), "rule": rule, "severity": "red",
            "labels": {"category": category}, "location": location}


def test_shipped_duty_list_loads():
    duty = load_duty_file(SHIPPED)
    assert duty.routes and set(duty.sla) == {"red", "orange", "yellow", "blue"}


def test_first_matching_route_wins():
    duty = load_duty_file(SHIPPED)
    assert duty.route(alert(district="渝中区")).department == "渝中区排水管理处"
    assert duty.route(alert(district="江北区")).department == "市排水管理处"


def test_an_empty_matcher_routes_everything_left():
    duty = load_duty_file(SHIPPED)
    assert duty.route(alert(category="noise")).department == "城市运行管理中心值班室"


def test_without_a_matching_route_an_alert_has_no_department():
    duty = load_duty("duty:\n  - match: {labels.category: gas}\n    department: g\n", "d.yaml")
    assert duty.route(alert()) is None


def test_alerts_of_one_category_and_building_share_a_group_key():
    duty = load_duty_file(SHIPPED)
    assert duty.group_key(alert(building="B1")) == duty.group_key(alert("other", building="B1"))
    assert duty.group_key(alert(building="B1")) != duty.group_key(alert(building="B2"))


def test_deadlines_count_from_the_opening_per_severity():
    duty = load_duty_file(SHIPPED)
    assert duty.deadlines("orange", 1_000) == {"acknowledge": 901_000, "dispatch": 3_601_000,
                                               "resolve": 28_801_000}


def test_a_firing_cause_inhibits_its_symptom_in_the_same_building():
    duty = load_duty_file(SHIPPED)
    symptom = alert("gas.smell.report", "gas", building="B1")
    assert duty.inhibited(symptom, [alert("gas.concentration.high", "gas", building="B1")])
    assert not duty.inhibited(symptom, [alert("gas.concentration.high", "gas", building="B2")])


BAD = [
    ("sla:\n  purple: {acknowledge: 5m}\n", 2, "unknown severity 'purple'"),
    ("sla:\n  red: {acknowledge: soon}\n", 2, "bad duration 'soon'"),
    ("sla:\n  red: {acknowlege: 5m}\n", 2, "did you mean 'acknowledge'"),
    ("grouping: {by: [labels.category]}\n", 1, "needs `by`"),
    ("grouping:\n  by: [building]\n  window: 30m\n", 2, "unknown field 'building'"),
    ("duty:\n  - match: {labels.category: gas}\n", 2, 'route 1: a route needs a `department`'),
    ("duty:\n  - match: {place: x}\n    department: d\n", 2, "unknown field 'place'"),
    ("inhibit:\n  - source: {rule: a}\n", 2, "needs `source` and `target`"),
    ("routes: []\n", 1, "unknown key 'routes'"),
    ("duty: [\n", 2, "invalid YAML"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD, ids=[m for _, _, m in BAD])
def test_broken_duty_list_is_refused_with_line_and_reason(text, line, message):
    with pytest.raises(RuleFileError) as caught:
        load_duty(text, "duty.yaml")
    assert any(error.line == line and message in str(error) for error in caught.value.errors), \
        str(caught.value)
