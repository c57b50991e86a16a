"""Dispatch by index: an event reaches exactly the rules whose `match` it passes, whatever the
field, before and after a push; copies of one rule are evaluated once and alert as themselves."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine import yamlpos
from engine.dispatch import ENTRY_LIMIT
from engine.evaluator import Evaluator
from engine.events import from_dict
from engine.pack import Pack
from engine.rulefile import rule_files

T0 = 1_782_864_000_000   # 2026-07-01T00:00:00Z
M = 60_000
RULES = Path(__file__).parent.parent / "rules"

# One rule per row: (match as YAML, on). Each fires once per event it takes (keyed by event id),
# so the alerts of a rule are exactly the events that reached it.
TABLE = {
    "kind": ("{kind: report}", "[reading, report]"),
    "type": ("{type: water_level}", "reading"),
    "type-list": ("{type: [smoke, gas]}", "reading"),
    "category": ("{category: 漏水}", "report"),
    "device": ("{device_id: d2}", "reading"),
    "source": ("{source: gw-yz}", "reading"),
    "district": ("{location.district: 渝中区}", "[reading, report]"),
    "street": ("{location.street: 解放碑街道}", "reading"),
    "community": ("{location.community: 七星岗社区}", "reading"),
    "grid": ("{location.grid: [G1, G3]}", "[reading, report]"),
    "building": ("{location.building: B2}", "report"),
    "attrs-text": ("{attrs.profile: alone}", "reading"),
    "attrs-number": ("{attrs.floor: 3}", "reading"),
    "attrs-bool": ("{attrs.indoor: true}", "reading"),
    "two-fields": ("{type: water_level, location.grid: G2}", "reading"),
    # More places in the tree than ENTRY_LIMIT: one field indexed, the other tested by the rule.
    "beyond-limit": (f"{{location.grid: [{', '.join(f'G{n}' for n in range(12))}], "
                     f"attrs.floor: [{', '.join(str(n) for n in range(12))}]}}", "reading"),
}
assert 12 * 12 > ENTRY_LIMIT


def table_pack(rows: dict[str, tuple[str, str]], suffix: str = "") -> Pack:
    rules = "".join(f"""
  - id: {name}{suffix}
    on: {on}
    match: {match}
    key: id
    when: "true"
    severity: blue
""" for name, (match, on) in rows.items())
    return Pack.from_text("rules:" + rules)


def random_events(seed: int, count: int, start: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        kind = rng.choice(["reading", "report"])
        location = {level: rng.choice(values) for level, values in (
            ("district", ["渝中区", "江北区"]), ("street", ["解放碑街道", "观音桥街道"]),
            ("community", ["七星岗社区", "华新村社区"]), ("grid", ["G1", "G2", "G3", "G11"]),
            ("building", ["B1", "B2"])) if rng.random() < 0.9}
        event = {"kind": kind, "id": f"e{start + n}", "ts": T0 + (start + n) * 1_000,
                 "location": location,
                 "attrs": {name: rng.choice(values) for name, values in (
                     ("profile", ["alone", "family"]), ("floor", [3, 3.0, 4, "3", [3]]),
                     ("indoor", [True, False, 1])) if rng.random() < 0.7}}
        if kind == "reading":
            event.update(device_id=rng.choice(["d1", "d2"]), value=1.0,
                         type=rng.choice(["water_level", "smoke", "gas", "noise"]),
                         source=rng.choice(["gw-yz", "gw-jb"]))
        else:
            event.update(text="有情况", category=rng.choice(["漏水", "噪音"]))
        events.append(from_dict(event))
    return events


def passes(event, match: dict[str, tuple]) -> bool:
    """The reference: each field's value equals one of the listed values."""
    for path, values in match.items():
        head, _, name = path.partition(".")
        if head == "location":
            value = getattr(event.location, name) if event.location else None
        elif head == "attrs":
            value = (event.attrs or {}).get(name)
        else:
            value = getattr(event, head)
        if not any(value == wanted for wanted in values):
            return False
    return True


def fired(alerts: list[dict]) -> set[tuple[str, str]]:
    return {(alert["rule"], alert["key"]) for alert in alerts if alert["change"] == "fired"}


def expected(pack: Pack, events: list[tuple]) -> set[tuple[str, str]]:
    return {(spec.id, event.id) for spec in pack.specs for _, event in events
            if event.kind in spec.match.get("kind", spec.on) and passes(event, spec.match)}


def evaluate(evaluator: Evaluator, events: list[tuple]) -> list[dict]:
    return evaluator.process(events).alerts + evaluator.flush().alerts


@pytest.mark.parametrize("row", sorted(TABLE))
def test_an_event_reaches_a_rule_exactly_when_it_passes_the_rules_match(row):
    pack = table_pack({row: TABLE[row]})
    events = random_events(seed=1, count=600)
    assert fired(evaluate(Evaluator(pack, lateness_ms=0), events)) == expected(pack, events)


def test_every_indexable_field_is_indexed_and_a_rule_past_the_limit_falls_back_to_its_own_test():
    evaluator = Evaluator(table_pack(TABLE), lateness_ms=0)
    tested = {node.path for node in _nodes(evaluator.index.root) if node.path}
    assert tested == {"kind", "type", "category", "device_id", "source", "location.district",
                      "location.street", "location.community", "location.grid",
                      "location.building", "attrs.profile", "attrs.floor", "attrs.indoor"}
    assert evaluator.rules["beyond-limit"].matcher is not None     # one field left to test
    assert evaluator.rules["two-fields"].matcher is None           # all of it indexed


def test_after_a_push_events_reach_exactly_the_rules_of_the_new_pack():
    first, second = table_pack(TABLE), table_pack(dict(list(TABLE.items())[::2]), ".v2")
    evaluator = Evaluator(first, lateness_ms=0)
    before, after = random_events(2, 400), random_events(3, 400, start=400)
    alerts = evaluate(evaluator, before)
    evaluator.load(second)
    alerts += evaluate(evaluator, after)
    assert fired(alerts) == expected(first, before) | expected(second, after)


def test_random_packs_reach_the_same_rules_with_the_index_as_by_scanning():
    rng = random.Random(7)
    fields = {"type": ["water_level", "smoke", "gas"], "category": ["漏水", "噪音"],
              "location.grid": ["G1", "G2", "G3"], "location.district": ["渝中区", "江北区"],
              "attrs.floor": [3, 4, "3"], "attrs.indoor": ["true", "false"],
              "device_id": ["d1", "d2"]}
    rows = {}
    for n in range(120):
        chosen = rng.sample(sorted(fields), rng.randint(0, 3))
        match = ", ".join(
            f"{path}: [{', '.join(map(str, rng.sample(fields[path], rng.randint(1, 2))))}]"
            for path in chosen)
        rows[f"r{n}"] = ("{" + match + "}", rng.choice(["reading", "report", "[reading, report]"]))
    pack = table_pack(rows)
    events = random_events(seed=8, count=800)
    indexed = evaluate(Evaluator(pack, lateness_ms=0), events)
    assert indexed == evaluate(Evaluator(pack, lateness_ms=0, scan=True), events)
    assert fired(indexed) == expected(pack, events)


# -- copies of a rule ------------------------------------------------------------------------------
COUNTED = """
rules:
  - id: leak.burst{suffix}
    title: {{zh: 漏水集中{suffix}}}
    on: report
    match: {{category: 漏水}}
    key: location.building
    when: count(10m) >= {threshold}
    severity: orange
    labels: {{department: 物业{suffix}}}
"""


def copies_text(thresholds: dict[str, int]) -> str:
    return "\n".join(COUNTED.format(suffix=suffix, threshold=threshold)
                     .removeprefix("\nrules:" if n else "")
                     for n, (suffix, threshold) in enumerate(thresholds.items()))


def copies(thresholds: dict[str, int]) -> Pack:
    return Pack.from_text(copies_text(thresholds))


def leaks(start: int, count: int, every_s: int = 60) -> list[tuple]:
    return [from_dict({"kind": "report", "id": f"p{start + n}", "ts": T0 + (start + n) * every_s
                       * 1_000, "text": "漏水", "category": "漏水",
                       "location": {"grid": "G1", "building": f"B{(start + n) % 2}"}})
            for n in range(count)]


def test_copies_of_a_rule_alert_each_under_their_own_id_title_and_labels():
    pack = copies({"": 3, ".east": 3, ".west": 3})
    alerts = evaluate(Evaluator(pack), leaks(0, 12))
    assert alerts == evaluate(Evaluator(pack, scan=True), leaks(0, 12))
    by_rule = {rule: [a for a in alerts if a["rule"] == rule]
               for rule in ("leak.burst", "leak.burst.east", "leak.burst.west")}
    assert [len(found) for found in by_rule.values()] == [2, 2, 2]
    assert {a["labels"]["department"] for a in by_rule["leak.burst.east"]} == {"物业.east"}
    assert by_rule["leak.burst.west"][0]["title"] == {"zh": "漏水集中.west"}


def test_copies_of_a_rule_are_evaluated_once():
    evaluator = Evaluator(copies({f".c{n}": 3 for n in range(10)}))
    evaluate(evaluator, leaks(0, 12))
    assert len(evaluator.index.reached(leaks(0, 1)[0][1])) == 1
    assert evaluator.stats()["keys"] == 2
    assert set(evaluator.evaluations.values()) == {12}     # counted for every copy


def test_a_pushed_change_to_one_copy_starts_it_afresh_while_the_others_keep_their_windows():
    def run(scan: bool) -> list[dict]:
        evaluator = Evaluator(copies({"": 3, ".east": 3}), scan=scan)
        alerts = evaluator.process(leaks(0, 5)).alerts
        evaluator.schedule(copies({"": 3, ".east": 2}), T0 + 5 * 60_000)
        return alerts + evaluate(evaluator, leaks(5, 6))

    assert run(scan=False) == run(scan=True)
    assert {a["rule"] for a in run(scan=False)} == {"leak.burst", "leak.burst.east"}


def test_a_copy_pushed_with_new_texts_starts_afresh_beside_the_copy_that_kept_its_windows():
    renamed = Pack.from_text(copies_text({"": 3, ".east": 3}).replace("漏水集中.east", "东区漏水"))

    def run(scan: bool) -> list[dict]:
        evaluator = Evaluator(copies({"": 3, ".east": 3}), scan=scan)
        alerts = evaluator.process(leaks(0, 5)).alerts
        evaluator.schedule(renamed, T0 + 5 * 60_000)
        return alerts + evaluate(evaluator, leaks(5, 6))

    assert run(scan=False) == run(scan=True)


def test_copies_restored_from_a_checkpoint_go_on_as_they_would_have():
    pack = copies({"": 3, ".east": 3, ".west": 4})
    straight = Evaluator(pack, lateness_ms=0)
    whole = straight.process(leaks(0, 14)).alerts + straight.flush().alerts
    first = Evaluator(pack, lateness_ms=0)
    alerts = first.process(leaks(0, 7)).alerts
    second = Evaluator(pack, lateness_ms=0)
    second.restore(first.snapshot())
    alerts += second.process(leaks(7, 7)).alerts + second.flush().alerts
    assert alerts == whole and len(second.index.reached(leaks(0, 1)[0][1])) == 2


def test_the_shipped_pack_and_copies_of_it_give_the_scanning_evaluators_alerts_over_a_city():
    from engine.simulation import simulate

    events = [from_dict(e) for e in simulate(seed=3, duration_ms=3 * 3_600_000,
                                             devices=150).events]
    texts = {path.name: path.read_text(encoding="utf-8") for path in rule_files([RULES])}
    shipped = Pack.from_texts(texts)
    copied = Pack.from_texts({**texts, **{
        f"copy-{name}": json.dumps({"rules": [dict(rule, id=f"{rule['id']}.copy")
                                              for rule in yamlpos.load(text)["rules"]]})
        for name, text in texts.items() if "rules" in yamlpos.load(text)}})
    for pack in (shipped, copied):
        assert evaluate(Evaluator(pack), events) == evaluate(Evaluator(pack, scan=True), events)
    assert len(copied) == 2 * len(shipped)


def _nodes(node):
    yield node
    for child in (*node.branches.values(), node.rest):
        if child is not None:
            yield from _nodes(child)
