"""The evaluator: each rule shape end to end, event time, lateness, identity, state and reload."""
from __future__ import annotations

import random

from engine.evaluator import Evaluator
from engine.events import from_dict
from engine.identity import alert_id
from engine.pack import Pack

T0 = 1_782_864_000_000   # 2026-07-01T00:00:00Z
M = 60_000
LOCATION = {"district": "渝中区", "grid": "YZ-03-07", "building": "B12"}


def reading(minute: float, kind: str, value: float, device: str = "d1", **extra) -> tuple:
    t = T0 + int(minute * M)
    return from_dict({"kind": "reading", "id": f"{device}-{minute}", "ts": t, "device_id": device,
                      "type": kind, "value": value,
                      "location": extra.pop("location", LOCATION), **extra})


def report(minute: float, text: str, category: str | None = None, **extra) -> tuple:
    t = T0 + int(minute * M)
    event = {"kind": "report", "id": f"p-{minute}-{text}", "ts": t, "text": text,
             "location": extra.pop("location", LOCATION), **extra}
    if category:
        event["category"] = category
    return from_dict(event)


def run(rules: str, events: list, *, lateness_ms: int = 2 * M, until: float | None = None):
    evaluator = Evaluator(Pack.from_text(rules), lateness_ms=lateness_ms)
    alerts = evaluator.process(events).alerts + evaluator.flush().alerts
    if until is not None:
        alerts += evaluator.advance(T0 + int(until * M) + 1).alerts
    return alerts


def summary(alerts: list[dict]) -> list[tuple]:
    return [(a["rule"], a["change"], a["severity"], (_ms(a["at"]) - T0) / M) for a in alerts]


def _ms(iso: str) -> int:
    from engine.events import parse_timestamp
    return parse_timestamp(iso)


THRESHOLD = """
rules:
  - id: water.high
    on: reading
    match: {type: water_level}
    when: value >= 0.15
    for: 2m
    severity:
      - {when: value >= 0.5, level: red}
      - {level: yellow}
    clear: value < 0.1
    labels: {category: waterlogging}
    summary: {zh: "{location.building}积水{value:.2f}米", en: "water {value:.2f} m"}
"""


def test_threshold_rule_record_carries_everything_an_operator_needs():
    events = [reading(m, "water_level", v) for m, v in enumerate([0.1, 0.2, 0.3, 0.6, 0.05])]
    fired = run(THRESHOLD, events)[0]
    assert fired == {
        "id": alert_id("water.high", "d1", T0 + M), "rule": "water.high", "key": "d1",
        "severity": "red", "status": "firing", "change": "fired",   # 0.6 m seen as it fires
        "at": "2026-07-01T00:03:00.000Z", "starts_at": "2026-07-01T00:01:00.000Z",
        "labels": {"category": "waterlogging"},
        "title": {"zh": "water.high", "en": "water.high"},
        "summary": {"zh": "B12积水0.60米", "en": "water 0.60 m"},
        "location": LOCATION,
        "evidence": [{"id": f"d1-{m}", "ts": T0 + m * M, "device_id": "d1", "type": "water_level",
                      "value": v} for m, v in [(1, 0.2), (2, 0.3), (3, 0.6)]],
        "occurrences": 3,
    }


def test_threshold_rule_escalates_and_resolves_one_episode():
    events = [reading(m, "water_level", v) for m, v in enumerate([0.2, 0.2, 0.2, 0.6, 0.05])]
    alerts = run(THRESHOLD, events)
    assert summary(alerts) == [("water.high", "fired", "yellow", 2), ("water.high", "escalated",
                                                                       "red", 3),
                               ("water.high", "resolved", "red", 4)]
    assert len({a["id"] for a in alerts}) == 1


def test_for_is_decided_by_event_time_of_other_keys_not_by_this_keys_next_event():
    events = [reading(0, "water_level", 0.2, "d1")] + [
        reading(m, "water_level", 0.0, "d2") for m in range(1, 6)]
    alerts = run(THRESHOLD, events, lateness_ms=0)
    assert summary(alerts) == [("water.high", "fired", "yellow", 2)]


LEAK_BURST = """
rules:
  - id: leak.burst
    on: report
    match: {category: water_leak}
    key: location.building
    when: count(1h) >= 3
    severity: yellow
"""


def test_frequency_rule_resolves_when_the_window_empties():
    events = [report(m, "漏水", "water_leak") for m in (0, 10, 20)]
    assert summary(run(LEAK_BURST, events, until=120)) == [("leak.burst", "fired", "yellow", 20),
                                                      ("leak.burst", "resolved", "yellow", 60)]


def test_spike_rule_compares_the_hour_with_the_keys_usual_level():
    rules = """
rules:
  - id: spike
    on: report
    key: location.grid
    when: count(1h) > 3 * avg_count(1h, over 1d) and count(1h) >= 4
    severity: blue
"""
    usual = [report(h * 60, f"r{h}") for h in range(20)]           # one an hour
    burst = [report(20 * 60 + m, f"b{m}") for m in (1, 2, 3, 4)]
    alerts = run(rules, usual + burst)
    assert summary(alerts)[0] == ("spike", "fired", "blue", 20 * 60 + 4)


def test_change_rule_with_previous_fires_on_a_change():
    rules = """
rules:
  - id: door.changed
    on: reading
    match: {type: elevator}
    when: previous(attrs.state) != attrs.state and previous(attrs.state) != null
    severity: blue
"""
    events = [reading(m, "elevator", 0, attrs={"state": s}) for m, s in
              enumerate(["ok", "ok", "fault", "fault"])]
    assert summary(run(rules, events)) == [("door.changed", "fired", "blue", 2),
                                           ("door.changed", "resolved", "blue", 3)]


def test_first_seen_fires_for_a_new_value_only():
    rules = """
rules:
  - id: new.fault
    on: reading
    match: {type: elevator}
    when: first_seen(attrs.fault, 30d)
    severity: blue
"""
    events = [reading(m, "elevator", 1, attrs={"fault": f}) for m, f in
              enumerate(["door", "door", "motor"])]
    assert [a["change"] for a in run(rules, events)] == ["fired", "resolved", "fired"]


def test_absence_rule_fires_from_the_watermark_and_ends_on_the_next_event():
    rules = """
rules:
  - id: heartbeat
    on: reading
    match: {type: gas}
    absent_for: 10m
    severity: blue
"""
    events = [reading(0, "gas", 1, "g1"), reading(25, "gas", 1, "g1")] + [
        reading(m, "gas", 1, "g2") for m in range(0, 30, 5)]
    alerts = run(rules, events, lateness_ms=0)
    assert [(a["key"], a["change"], (_ms(a["at"]) - T0) / M, (_ms(a["starts_at"]) - T0) / M)
            for a in alerts] == [("g1", "fired", 10, 10), ("g1", "resolved", 25, 10)]


def test_absence_is_not_raised_past_the_end_of_the_input():
    rules = "rules:\n  - id: hb\n    on: reading\n    absent_for: 10m\n    severity: blue\n"
    assert run(rules, [reading(0, "gas", 1), reading(5, "gas", 1)]) == []


SEQUENCE = """
rules:
  - id: fire.seq
    on: reading
    key: location.building
    sequence:
      - {match: {type: smoke}, when: value > 0}
      - match: {type: temperature}
        when: delta(value, 5m) > 10
    within: 3m
    severity: red
"""


def test_sequence_fires_when_the_steps_follow_within_the_window():
    events = [reading(0, "temperature", 20, "t1"), reading(1, "smoke", 3, "s1"),
              reading(3, "temperature", 35, "t1")]
    assert summary(run(SEQUENCE, events)) == [("fire.seq", "fired", "red", 3)]


def test_sequence_in_the_wrong_order_or_too_late_does_not_fire():
    wrong_order = [reading(0, "temperature", 20, "t1"), reading(1, "temperature", 35, "t1"),
                   reading(2, "smoke", 3, "s1")]
    too_late = [reading(0, "temperature", 20, "t1"), reading(1, "smoke", 3, "s1"),
                reading(5, "temperature", 35, "t1")]
    assert run(SEQUENCE, wrong_order) == [] and run(SEQUENCE, too_late) == []


def test_sequence_across_reports_and_readings():
    rules = """
rules:
  - id: gas.seq
    on: [report, reading]
    key: location.grid
    sequence:
      - match: {kind: report}
        when: contains(text, "煤气")
      - {match: {kind: reading, type: gas}, when: value > 0.5 * attrs.alarm_limit}
    within: 30m
    severity: orange
"""
    events = [report(0, "闻到煤气味"), reading(20, "gas", 15, "g1", attrs={"alarm_limit": 25},
                                              location=dict(LOCATION, building="B99"))]
    assert summary(run(rules, events)) == [("gas.seq", "fired", "orange", 20)]


def test_report_rule_lapses_after_an_hour_without_reports():
    rules = """
rules:
  - id: fire.report
    on: report
    key: location.building
    when: matches(text, "起火|冒烟")
    severity: orange
"""
    alerts = run(rules, [report(0, "12栋冒烟了")], until=90)
    assert summary(alerts) == [("fire.report", "fired", "orange", 0),
                               ("fire.report", "resolved", "orange", 60)]


def test_event_without_the_key_field_is_counted_not_evaluated():
    rules = "rules:\n  - id: r\n    on: report\n    key: location.building\n" \
            "    when: true\n    severity: blue\n"
    evaluator = Evaluator(Pack.from_text(rules))
    evaluator.process([report(0, "x", location={"grid": "G"})])
    evaluator.flush()
    assert evaluator.rules["r"].unkeyed == 1


# -- event time -----------------------------------------------------------------------------------
def city_events(seed: int = 5) -> list[tuple]:
    from engine.simulation import simulate
    run_ = simulate(seed=seed, duration_ms=4 * 3_600_000, devices=150)
    return [from_dict(e) for e in run_.events]


def shipped_pack() -> Pack:
    from pathlib import Path
    return Pack.load([Path(__file__).parent.parent / "rules"])


def evaluate(pack: Pack, events, batch: int = 500, lateness_ms: int = 2 * M) -> list[dict]:
    evaluator = Evaluator(pack, lateness_ms=lateness_ms)
    alerts = []
    for start in range(0, len(events), batch):
        alerts += evaluator.process(events[start:start + batch]).alerts
    return alerts + evaluator.flush().alerts


def test_out_of_order_events_within_the_lateness_give_the_same_alerts():
    pack = shipped_pack()
    ordered = sorted(city_events(), key=lambda pair: (pair[0], pair[1].id))
    shuffled = list(ordered)
    rng = random.Random(1)
    # Displace events by up to 90 s of event time: well inside the 2-minute lateness.
    keyed = [(t + rng.randint(0, 90_000), i, (t, e)) for i, (t, e) in enumerate(shuffled)]
    shuffled = [pair for _, _, pair in sorted(keyed)]
    assert shuffled != ordered
    expected = evaluate(pack, ordered)
    assert expected and evaluate(pack, shuffled) == expected


def test_batch_boundaries_do_not_change_the_alerts():
    pack, events = shipped_pack(), city_events()
    assert evaluate(pack, events, batch=1) == evaluate(pack, events, batch=10_000)


def test_events_older_than_the_lateness_are_returned_as_late_and_not_evaluated():
    evaluator = Evaluator(Pack.from_text(THRESHOLD), lateness_ms=2 * M)
    first = evaluator.process([reading(10, "water_level", 0.0), reading(11, "water_level", 0.0)])
    out = evaluator.process([reading(9, "water_level", 0.9), reading(7, "water_level", 0.9)])
    assert first.late == [] and [e.id for _, e in out.late] == ["d1-7"]
    assert evaluator.stats()["late"] == 1


def test_a_batch_sent_twice_counts_once_in_the_windows():
    batch = [report(m, "漏水", "water_leak") for m in (0, 1)]
    evaluator = Evaluator(Pack.from_text(LEAK_BURST), lateness_ms=2 * M)
    alerts = evaluator.process(batch).alerts + evaluator.process(batch).alerts
    assert alerts + evaluator.flush().alerts == []     # two reports, not four
    assert evaluator.stats()["duplicates"] == 2


def test_an_event_repeated_right_after_itself_counts_once():
    events = [report(0, "漏水", "water_leak"), report(0, "漏水", "water_leak"),
              report(10, "漏水", "water_leak")]
    evaluator = Evaluator(Pack.from_text(LEAK_BURST), lateness_ms=2 * M)
    assert evaluator.process(events).alerts + evaluator.flush().alerts == []
    assert evaluator.stats()["duplicates"] == 1


def test_events_with_one_id_at_different_times_are_different_events():
    events = [report(m, "漏水", "water_leak") for m in (0, 10, 20)]
    for _, event in events:
        event.id = "ticket-1"     # a ticket updated twice keeps its id
    assert summary(run(LEAK_BURST, events))[0][:2] == ("leak.burst", "fired")


def test_a_backfill_weeks_old_is_evaluated_in_its_own_event_time():
    evaluator = Evaluator(Pack.from_text(THRESHOLD))
    old = [reading(m - 30 * 24 * 60, "water_level", 0.3) for m in range(5)]
    output = evaluator.process(old)
    alerts = output.alerts + evaluator.flush().alerts
    assert output.late == [] and summary(alerts)[0][:2] == ("water.high", "fired")


# -- identity and state ---------------------------------------------------------------------------
def test_alert_id_is_derived_from_rule_key_and_episode_start():
    alerts = run(THRESHOLD, [reading(m, "water_level", 0.3) for m in range(4)])
    assert alerts[0]["id"] == alert_id("water.high", "d1", T0)


def test_restored_snapshot_continues_exactly_like_an_uninterrupted_run():
    pack, events = shipped_pack(), city_events()
    expected = evaluate(pack, events)
    half = len(events) // 2
    first = Evaluator(pack)
    alerts = first.process(events[:half]).alerts
    second = Evaluator(pack)
    second.restore(first.snapshot())
    alerts += second.process(events[half:]).alerts + second.flush().alerts
    assert alerts == expected


def test_reload_keeps_the_state_of_unchanged_rules_and_resets_changed_ones():
    other = THRESHOLD.replace("id: water.high", "id: water.other").replace(
        "rules:\n", "rules:\n", 1)
    both = THRESHOLD + other.split("rules:\n", 1)[1]
    evaluator = Evaluator(Pack.from_text(both), lateness_ms=0)
    evaluator.process([reading(0, "water_level", 0.3), reading(1, "water_level", 0.3)])
    changed = both.replace("value >= 0.15\n    for: 2m", "value >= 0.15\n    for: 3m", 1)
    evaluator.load(Pack.from_text(changed))
    alerts = evaluator.process([reading(m, "water_level", 0.3) for m in (2, 3)]).alerts
    assert [(a["rule"], (_ms(a["starts_at"]) - T0) / M) for a in alerts] == [("water.other", 0)]


def test_a_timer_wakes_a_key_once_per_instant_whatever_the_times(monkeypatch):
    """Events before 1970 once made an absence timer re-arm at its own instant forever."""
    import signal

    from engine.events import Event

    def hang(*_):
        raise TimeoutError("the evaluator did not return")

    signal.signal(signal.SIGALRM, hang)
    signal.alarm(5)
    try:
        evaluator = Evaluator(Pack.from_text(SILENCE), lateness_ms=0)
        ancient = -62_135_596_800_000    # 0001-01-01: the engine itself takes any integer
        for name in ("a", "b"):
            evaluator.process([(ancient, Event("reading", name, 0, device_id="d1",
                                               type="heartbeat", value=1.0))])
        alerts = evaluator.process([(T0, Event("reading", "c", 0, device_id="d1",
                                               type="heartbeat", value=1.0))]).alerts
        alerts += evaluator.flush().alerts
    finally:
        signal.alarm(0)
    assert [a["change"] for a in alerts] == ["fired", "resolved"]


SILENCE = """
rules:
  - id: device.silent
    on: reading
    match: {type: heartbeat}
    absent_for: 30m
    severity: yellow
"""


def test_a_resolved_alert_still_names_the_event_that_raised_it():
    rules = """
rules:
  - id: reports.gas
    on: report
    key: location.building
    when: contains(text, "燃气")
    severity: orange
    summary: "{text}"
"""
    events = [report(0, "B7燃气味很重"), report(5, "B7电梯困人")]
    alerts = run(rules, events)
    assert [(a["change"], a["summary"]["zh"]) for a in alerts] == [
        ("fired", "B7燃气味很重"), ("resolved", "B7燃气味很重")]
