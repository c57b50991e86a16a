"""Duty rosters: an alert goes to the handler on duty at that moment, a missed deadline to the
next on the roster, then up the department chain; driven by an injected clock."""
from __future__ import annotations

import pytest
from center_records import MINUTE, alert_record

from center.ledger import Ledger
from engine.duty import load_duty
from engine.rulefile import RuleFileError

HOUR = 60 * MINUTE
WEDNESDAY_8AM = 1_782_864_000_000          # 2026-07-01T08:00:00+08:00, the clock's start

DUTY = """
sla:
  red: {acknowledge: 5m, dispatch: 1h, resolve: 4h}
reminders: 15m
duty:
  - match: {labels.category: waterlogging}
    department: 市排水管理处
    escalate_to: 市应急管理局
rosters:
  市排水管理处:
    - {days: weekdays, from: 08:00, to: 20:00, handlers: [王工, 李工]}
    - {days: daily, from: 20:00, to: 08:00, handlers: [夜班张工]}
    - {date: 2026-07-03, from: 08:00, to: 20:00, handlers: [赵主任]}
  市应急管理局:
    - {days: daily, from: 00:00, to: 24:00, handlers: [应急值班员]}
"""


@pytest.fixture
def ledger(store, clock):
    return Ledger(store, load_duty(DUTY, "duty.yaml"), clock=clock)


def opened(ledger, key="wl-1", severity="yellow"):
    record = alert_record(key=key, severity=severity, starts_at=ledger.clock())
    ledger.ingest([record])
    return ledger.alert(record["id"])


def test_an_alert_goes_to_the_first_handler_on_duty_when_it_opens(ledger):
    assert opened(ledger)["handler"] == "王工"


def test_at_the_shift_change_the_night_shift_takes_new_alerts(ledger, clock):
    clock.advance(12 * HOUR - MINUTE)                   # 19:59
    assert opened(ledger, "before")["handler"] == "王工"
    clock.advance(2 * MINUTE)                           # 20:01
    assert opened(ledger, "after")["handler"] == "夜班张工"


def test_the_night_shift_runs_past_midnight(ledger, clock):
    clock.advance(19 * HOUR)                            # Thursday 03:00
    assert opened(ledger)["handler"] == "夜班张工"


def test_an_override_replaces_the_weekly_pattern_on_its_day(ledger, clock):
    clock.advance(2 * 24 * HOUR + HOUR)                 # Friday 2026-07-03, 09:00
    assert opened(ledger)["handler"] == "赵主任"


def test_a_dispatch_without_a_handler_goes_to_whoever_is_on_duty_there(ledger, clock):
    alert = opened(ledger)
    ledger.act(alert["id"], "acknowledge", {}, actor="值班员")
    dispatched = ledger.act(alert["id"], "dispatch", {"department": "市应急管理局"},
                            actor="值班员")
    assert dispatched["handler"] == "应急值班员"
    assert dispatched["timeline"][-1]["data"] == {"department": "市应急管理局",
                                                  "handler": "应急值班员"}


def test_a_named_handler_in_a_dispatch_is_kept(ledger):
    alert = opened(ledger)
    ledger.act(alert["id"], "acknowledge", {}, actor="值班员")
    dispatched = ledger.act(alert["id"], "dispatch",
                            {"department": "市排水管理处", "handler": "李工"}, actor="值班员")
    assert dispatched["handler"] == "李工"


def test_a_missed_deadline_goes_to_the_next_on_the_roster_then_up_the_chain(ledger, clock):
    alert = opened(ledger, severity="red")
    clock.advance(6 * MINUTE)                           # past the 5 minutes to acknowledge
    ledger.tick()
    missed = ledger.alert(alert["id"])
    assert missed["handler"] == "李工"
    assert missed["timeline"][-1]["kind"] == "sla_missed"
    assert missed["timeline"][-1]["data"]["handler"] == "李工"
    clock.advance(15 * MINUTE)                          # a reminder: the roster is through
    ledger.tick()
    reminded = ledger.alert(alert["id"])
    assert reminded["handler"] == "李工"
    assert reminded["timeline"][-1]["kind"] == "reminder"
    assert reminded["timeline"][-1]["data"] == {"escalate_to": "市应急管理局"}


def test_a_department_without_a_roster_leaves_the_handler_to_people(store, clock):
    ledger = Ledger(store, load_duty(DUTY.split("rosters:")[0], "duty.yaml"), clock=clock)
    assert opened(ledger)["handler"] is None


@pytest.mark.parametrize(("shift", "message"), [
    ("{days: [mon, funday], from: 08:00, to: 20:00, handlers: [a]}", "not 'funday'"),
    ("{days: daily, from: 8am, to: 20:00, handlers: [a]}", "`from`: expected a time of day"),
    ("{days: daily, from: 08:00, to: 20:00, handlers: []}", "`handlers` is a non-empty list"),
    ("{from: 08:00, to: 20:00, handlers: [a]}", "a shift has `days` (weekly) or a `date`"),
    ("{date: soon, from: 08:00, to: 20:00, handlers: [a]}", "`date` is a day"),
    ("{days: daily, from: 08:00, to: 25:00, handlers: [a]}", "is not a time of day"),
])
def test_a_broken_shift_is_refused_with_its_line_and_reason(shift, message):
    with pytest.raises(RuleFileError) as caught:
        load_duty(f"rosters:\n  市排水管理处:\n    - {shift}\n", "duty.yaml")
    [error] = caught.value.errors
    assert error.line == 3 and "roster 市排水管理处, shift 1" in str(error)
    assert message in str(error)


def test_the_duty_endpoint_says_who_is_on_duty_now(store, clock):
    from test_center_api import Api

    api = Api(store, clock)
    api.ledger.duty = load_duty(DUTY, "duty.yaml")
    answer = api.call("GET", "/v1/duty", "viewer").json()
    assert answer["on_duty"] == {"市排水管理处": ["王工", "李工"], "市应急管理局": ["应急值班员"]}
