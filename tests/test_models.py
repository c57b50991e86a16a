"""Anomaly models inside rule packs: scores on events, warm-up, state, and operator feedback."""
from __future__ import annotations

import random

from engine.evaluator import Evaluator
from engine.events import from_dict
from engine.pack import Pack

T0 = 1_782_864_000_000
M = 60_000
PACK = """
models:
  - id: level
    detector: zscore
    params: {fading_factor: 0.02}
    on: reading
    match: {type: water_level}
    per: device_id
    features: [value]
    warmup: 50
rules:
  - id: level.unusual
    on: reading
    match: {type: water_level}
    when: score("level") >= 0.99999
    severity: blue
"""


def readings(values: list[float], device: str = "wl-1", start: int = 0) -> list[tuple]:
    return [from_dict({"kind": "reading", "id": f"{device}-{start + i}", "ts": T0 + (start + i) * M,
                       "device_id": device, "type": "water_level", "value": v})
            for i, v in enumerate(values)]


def normal(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [0.02 + rng.gauss(0, 0.002) for _ in range(n)]


def fired(evaluator: Evaluator, events: list) -> list[tuple[str, str]]:
    alerts = evaluator.process(events).alerts + evaluator.flush().alerts
    return [(a["key"], a["change"]) for a in alerts]


def test_a_rule_fires_on_the_model_score_of_a_spike():
    events = readings(normal(200) + [0.3] + normal(5, seed=2))
    assert fired(Evaluator(Pack.from_text(PACK), lateness_ms=0), events) == [
        ("wl-1", "fired"), ("wl-1", "resolved")]


def test_the_score_is_recorded_on_the_event_and_is_zero_during_warmup():
    events = readings([0.02, 0.5] + normal(10))
    evaluator = Evaluator(Pack.from_text(PACK), lateness_ms=0)
    evaluator.process(events)
    evaluator.flush()
    assert [event.scores["level"] for _, event in events] == [0.0] * 12


def test_each_key_has_its_own_detector():
    events = sorted(readings(normal(200), "wl-1") + readings([0.3] * 200, "wl-2"),
                    key=lambda pair: pair[0])
    evaluator = Evaluator(Pack.from_text(PACK), lateness_ms=0)
    assert fired(evaluator, events) == []           # 0.3 is normal for wl-2
    assert evaluator.stats()["model_keys"] == 2


def test_model_state_survives_a_snapshot_exactly():
    pack = Pack.from_text(PACK)
    events = readings(normal(300) + [0.3, 0.02, 0.25] + normal(50, seed=3))
    whole = Evaluator(pack, lateness_ms=0)
    expected = whole.process(events).alerts + whole.flush().alerts
    first = Evaluator(pack, lateness_ms=0)
    alerts = first.process(events[:150]).alerts
    second = Evaluator(pack, lateness_ms=0)
    second.restore(first.snapshot())
    rest = second.process(events[150:])
    assert alerts + rest.alerts + second.flush().alerts == expected


def test_a_false_positive_mark_teaches_the_model_that_such_a_value_is_normal():
    pack = Pack.from_text(PACK)
    marked, unmarked = Evaluator(pack, lateness_ms=0), Evaluator(pack, lateness_ms=0)
    history = normal(300) + [0.05]
    for evaluator in (marked, unmarked):
        assert fired(evaluator, readings(history)) == [("wl-1", "fired")]
    assert marked.mark_false_positive("level.unusual", "wl-1")
    again = readings(normal(3, seed=5) + [0.05], start=len(history))
    control = readings(normal(3, seed=5) + [0.05], start=len(history))
    for evaluator, events in ((marked, again), (unmarked, control)):
        evaluator.process(events)
        evaluator.flush()
    assert again[-1][1].scores["level"] < 0.99999 <= control[-1][1].scores["level"]


def test_feedback_on_a_rule_without_a_model_changes_nothing():
    evaluator = Evaluator(Pack.from_text(PACK + """
  - id: level.high
    on: reading
    match: {type: water_level}
    when: value > 0.2
    severity: yellow
"""), lateness_ms=0)
    evaluator.process(readings([0.3]))
    assert evaluator.mark_false_positive("level.high", "wl-1") is False
    assert evaluator.mark_false_positive("no.such.rule", "wl-1") is False


def test_a_window_function_can_be_a_feature():
    pack = Pack.from_text(PACK.replace("features: [value]", "features: [delta(value, 5m)]"))
    events = readings(normal(200) + [0.02 + 0.05 * i for i in range(1, 4)])
    evaluator = Evaluator(pack, lateness_ms=0)
    evaluator.process(events)
    evaluator.flush()
    assert events[-1][1].scores["level"] > 0.99999


def test_a_z_score_of_the_plain_value_keeps_its_state_in_arrays_with_the_same_scores():
    array_pack = Pack.from_text(PACK)
    object_pack = Pack.from_text(PACK.replace("features: [value]", "features: [value * 1]"))
    scores = []
    for pack in (array_pack, object_pack):
        evaluator = Evaluator(pack, lateness_ms=0)
        events = sorted(readings(normal(120) + [0.3], "a") + readings(normal(90, seed=4), "b"),
                        key=lambda pair: pair[0])
        evaluator.process(events)
        evaluator.flush()
        scores.append([event.scores["level"] for _, event in events])
    assert Evaluator(array_pack).models["level"].array is not None
    assert Evaluator(object_pack).models["level"].array is None
    assert all(abs(a - b) < 1e-12 for a, b in zip(*scores, strict=True))


class _FailsAbove100:
    """A detector with a bug that only a value above 100 reaches."""

    def __init__(self, warmup: int = 0) -> None:
        self.warmup = warmup

    def score_one(self, x: dict) -> float:
        return 0.0

    def learn_one(self, x: dict) -> None:
        if x["value"] > 100:
            raise ArithmeticError("the detector's bug")


BROKEN = """
models:
  - id: broken
    detector: fails_above_100
    on: reading
    match: {type: water_level}
rules:
  - id: level.unusual
    on: reading
    match: {type: water_level}
    when: score("broken") > 0.5
    severity: blue
  - id: level.high
    on: reading
    match: {type: water_level}
    when: value > 150
    severity: red
"""


def test_a_model_that_fails_at_run_time_is_quarantined_and_the_other_rules_go_on(monkeypatch):
    from engine import anomaly

    monkeypatch.setitem(anomaly.DETECTORS, "fails_above_100", _FailsAbove100)
    evaluator = Evaluator(Pack.from_text(BROKEN), lateness_ms=0)
    alerts = evaluator.process(readings([1.0, 2.0, 200.0, 3.0, 300.0, 4.0])).alerts
    alerts += evaluator.flush().alerts
    assert [(a["rule"], a["change"]) for a in alerts] == [
        ("level.high", "fired"), ("level.high", "resolved"), ("level.high", "fired"),
        ("level.high", "resolved")]
    held = evaluator.quarantined["broken"]
    assert held.reason == "ArithmeticError: the detector's bug" and T0 <= held.at <= T0 + 2 * M


def test_a_quarantined_model_stays_out_after_a_restore(monkeypatch):
    from engine import anomaly

    monkeypatch.setitem(anomaly.DETECTORS, "fails_above_100", _FailsAbove100)
    evaluator = Evaluator(Pack.from_text(BROKEN), lateness_ms=0)
    evaluator.process(readings([1.0, 200.0, 3.0]))
    restored = Evaluator(Pack.from_text(BROKEN), lateness_ms=0)
    restored.restore(evaluator.snapshot())
    assert list(restored.quarantined) == ["broken"] and "broken" not in restored.models
