"""Reading resident reports: categories by rule and by model, the unclassified queue, operators'
corrections, one alert per problem, hotspots, and all of it across a restart. The reports are
made up here, in the words residents use."""
from __future__ import annotations

from dataclasses import replace

import pytest
from center_records import T0, shipped_duty

from center.ledger import AlertFilter, Ledger
from engine.evaluator import Evaluator
from engine.events import Event, EventError, Location, decode
from engine.feedback import correction_of
from engine.pack import Pack
from engine.rulefile import RuleFileError

MINUTE, DAY = 60_000, 86_400_000
BUILDING = Location(district="渝中区", community="较场口社区", grid="YZ-03-07", building="3栋")


def report(n: int, text: str, *, category: str | None = None,
           location: Location = BUILDING) -> tuple[int, Event]:
    return T0 + n * MINUTE, Event("report", f"r{n}", T0 + n * MINUTE, text=text,
                                  category=category, location=location)


def run(evaluator: Evaluator, *events: tuple[int, Event]) -> list[dict]:
    return evaluator.process(list(events)).alerts + evaluator.flush().alerts


def fired(alerts: list[dict], rule: str) -> list[dict]:
    return [alert for alert in alerts if alert["rule"] == rule and alert["change"] == "fired"]


@pytest.fixture
def evaluator(shipped_pack) -> Evaluator:
    return Evaluator(shipped_pack, lateness_ms=0)


MODEL_PACK = """
categories:
  - {id: noise, keywords: [噪音, 吵, 施工, 音响, 睡不着]}
  - {id: garbage, keywords: [垃圾, 清运, 臭, 垃圾桶]}
reports: {unclassified_below: 0.3}
rules:
  - id: reports.problem
    on: report
    key: problem
    when: "true"
    severity: blue
    labels: {category: "{category}"}
"""


def test_a_report_without_a_category_is_classified_by_the_category_s_pattern(evaluator):
    [alert] = fired(run(evaluator, report(1, "5栋电梯里困了人，快来")), "reports.problem")
    assert alert["labels"]["category"] == "elevator"
    assert (alert["evidence"][0]["category_source"],
            alert["evidence"][0]["category_confidence"]) == ("rule", 1.0)


def test_a_report_no_pattern_decides_is_classified_by_the_model_with_its_confidence():
    evaluator = Evaluator(Pack.from_text(MODEL_PACK), lateness_ms=0)
    [alert] = fired(run(evaluator, report(1, "楼下音响到半夜，吵得睡不着")), "reports.problem")
    evidence = alert["evidence"][0]
    assert (alert["labels"]["category"], evidence["category_source"]) == ("noise", "model")
    assert 0.3 <= evidence["category_confidence"] < 1


def test_a_producer_s_category_is_kept(evaluator):
    [alert] = fired(run(evaluator, report(1, "5栋电梯困人", category="property")),
                    "reports.problem")
    assert alert["labels"]["category"] == "property"
    assert alert["evidence"][0]["category_source"] == "producer"


def test_a_report_nothing_classifies_waits_in_the_unclassified_queue(evaluator):
    alerts = run(evaluator, report(1, "有个事情想咨询一下，麻烦回个电话"))
    [alert] = fired(alerts, "reports.unclassified")
    assert alert["labels"]["category"] == "unclassified"
    assert not fired(alerts, "reports.problem")      # never a silent guess


def test_the_unclassified_queue_is_one_filter_of_the_alert_list(evaluator, store, clock):
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=["ops"])
    ledger.ingest(run(evaluator, report(1, "有个事情想咨询一下"), report(2, "3栋楼道漏水")))
    waiting = ledger.alerts(AlertFilter(category="unclassified")).items
    assert [alert["rule"] for alert in waiting] == ["reports.unclassified"]


def test_an_operator_s_correction_is_learnt_the_same_text_is_classified_so_next_time(
        evaluator, store, clock):
    text = "小区门口的共享单车堆成山了"
    [waiting] = fired(run(evaluator, report(1, text)), "reports.unclassified")
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=["ops"])
    ledger.ingest([waiting])
    ledger.feedback(waiting["id"], actor="op", corrected_category="parking")
    [event] = [event for event in ledger.unpublished() if event["kind"] == "feedback"]
    category, texts = correction_of(event["kind"], event["data"])
    for learnt in texts:
        evaluator.learn_category(learnt, category)
    [alert] = fired(run(evaluator, report(10 * 24 * 60, text, location=Location(
        building="9栋"))), "reports.problem")
    assert alert["labels"]["category"] == "parking"
    assert alert["evidence"][0]["category_source"] == "operator"


def test_residents_reporting_one_leak_in_their_own_words_make_one_alert_listing_every_report(
        evaluator):
    alerts = run(evaluator, report(1, "3栋楼道漏水"),
                 report(20, "3栋的楼道里一直在漏水，快来人修"),
                 report(50, "楼道漏水好几天了没人管", category="property"))
    problem = [alert for alert in alerts if alert["rule"] == "reports.problem"]
    assert {alert["key"] for alert in problem} == {"r1"}
    assert [item["id"] for item in problem[-1]["evidence"]] == ["r1", "r20", "r50"]
    assert [alert["change"] for alert in problem] == ["fired", "updated", "updated"]


def test_another_problem_of_the_same_building_is_another_alert(evaluator):
    alerts = run(evaluator, report(1, "3栋楼道漏水"), report(5, "3栋电梯坏了困人"))
    assert [alert["key"] for alert in fired(alerts, "reports.problem")] == ["r1", "r5"]


def test_a_topic_rising_in_a_community_raises_a_blue_hotspot_naming_its_words_and_area(
        evaluator):
    texts = ["工地夜间施工噪音", "工地夜间施工太吵", "夜间工地施工噪音扰民", "工地施工噪音到半夜",
             "工地夜间施工噪音影响睡觉"]
    alerts = run(evaluator, *(report(n * 24 * 60, text, location=Location(
        community="较场口社区", building=f"{n + 1}栋")) for n, text in enumerate(texts)))
    [hotspot] = fired(alerts, "reports.hotspot")
    assert hotspot["severity"] == "blue"
    assert "较场口社区" in hotspot["summary"]["zh"] and "工地 夜间 施工" in hotspot["summary"]["zh"]


def test_what_the_reader_learnt_and_remembers_survives_a_restart(shipped_pack):
    before = Evaluator(shipped_pack, lateness_ms=0)
    run(before, report(1, "3栋楼道漏水"))
    before.learn_category("小区门口的共享单车堆成山了", "parking")
    after = Evaluator(shipped_pack, lateness_ms=0)
    after.restore(before.snapshot())
    alerts = run(after, report(30, "3栋的楼道里一直在漏水，快来人修"),
                 report(31, "小区门口的共享单车堆成山了", location=Location(building="9栋")))
    assert {alert["key"]: alert["labels"]["category"]
            for alert in fired(alerts, "reports.problem")} == {"r31": "parking"}
    [update] = [alert for alert in alerts if alert["change"] == "updated"]
    assert [item["id"] for item in update["evidence"]] == ["r1", "r30"]


def test_a_rule_push_keeps_what_the_classifier_learnt(shipped_pack):
    evaluator = Evaluator(shipped_pack, lateness_ms=0)
    evaluator.learn_category("小区门口的共享单车堆成山了", "parking")
    evaluator.load(Pack(shipped_pack.specs, shipped_pack.models,
                        replace(shipped_pack.reading, unclassified_below=0.5)))
    [alert] = fired(run(evaluator, report(1, "小区门口的共享单车堆成山了")), "reports.problem")
    assert alert["labels"]["category"] == "parking"


def test_a_broken_category_is_refused_with_file_line_and_reason():
    with pytest.raises(RuleFileError) as refused:
        Pack.from_text("categories:\n  - id: gas\n    match: ['(煤气']\n"
                       "  - {id: noise, keyword: [吵]}\n", "categories.yaml")
    message = str(refused.value)
    assert "categories.yaml:3: category \"gas\": invalid pattern '(煤气'" in message
    assert "categories.yaml:4: category \"noise\": unknown key 'keyword' (did you mean " \
           "'keywords'?)" in message


def test_a_category_defined_in_two_files_is_refused():
    with pytest.raises(RuleFileError, match="a.yaml:2: category 'noise' is defined twice"):
        Pack.from_texts({"b.yaml": "categories:\n  - {id: noise, keywords: [吵]}\n",
                         "a.yaml": "categories:\n  - {id: noise, keywords: [噪音]}\n"})


def test_a_producer_cannot_set_what_ewe_reads_in_a_report():
    with pytest.raises(EventError, match="problem: is set by ewe when it reads a report"):
        decode(b'{"kind":"report","id":"r1","ts":"2026-07-01T08:00:00Z","text":"x",'
               b'"problem":"r0"}')


def test_a_report_of_a_problem_takes_the_problem_s_category(evaluator):
    alerts = run(evaluator, report(1, "3栋楼道漏水，楼道地面全湿了"), report(9, "楼道地面全湿了"))
    [update] = [alert for alert in alerts if alert["change"] == "updated"]
    assert [(item["id"], item["category"]) for item in update["evidence"]] == [
        ("r1", "water_leak"), ("r9", "water_leak")]


def test_a_pack_with_more_keywords_than_a_city_needs_is_refused():
    from engine.reports.categories import MAX_PACK_KEYWORDS

    per_category = 2_000
    categories = "\n".join(
        f"  - id: c{n}\n    keywords: [{', '.join(f'词{n}x{k}' for k in range(per_category))}]"
        for n in range(MAX_PACK_KEYWORDS // per_category + 1))
    with pytest.raises(RuleFileError, match="huge.yaml:.*more than 1,000 categories or 20,000 "
                                            "keywords in the pack"):
        Pack.from_text(f"categories:\n{categories}\n", "huge.yaml")
