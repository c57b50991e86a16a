"""The shipped rule pack: every rule is unit-tested, and a simulated day's incidents are caught."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.backtest import score
from engine.evaluator import Evaluator
from engine.events import from_dict
from engine.pack import Pack
from engine.ruletest import run_file
from engine.simulation import simulate

RULES = Path(__file__).parent.parent / "rules"
TEST_FILES = sorted((RULES / "tests").glob("*.test.yaml"))


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_rule_unit_tests_pass(path):
    failures = [(r.name, r.diff) for r in run_file(path) if not r.passed]
    assert failures == []


def test_every_shipped_rule_is_exercised_by_a_unit_test():
    tested = {line.split("rule:")[1].split(",")[0].strip()
              for path in TEST_FILES for line in path.read_text().splitlines() if "rule:" in line}
    assert {spec.id for spec in Pack.load([RULES]).specs} - tested == set()


def test_a_simulated_day_catches_every_injected_incident():
    run = simulate(seed=2, duration_ms=30 * 3_600_000, devices=400)
    evaluator = Evaluator(Pack.load([RULES]))
    events = [from_dict(e) for e in run.events]
    alerts = evaluator.process(events).alerts + evaluator.flush().alerts
    report = score(alerts, run.truth)
    assert {kind: (r.caught, r.incidents) for kind, r in report.by_type.items()} == {
        kind: (r.incidents, r.incidents) for kind, r in report.by_type.items()}
    assert len(report.by_type) >= 6


def test_the_rule_test_example_in_the_documentation_passes(tmp_path):
    text = (RULES.parent / "docs" / "rules.md").read_text()
    example = text[text.index("rule_files: [../waterlogging.yaml]"):]
    example = example[:example.index("```")].replace("../waterlogging.yaml",
                                                       str(RULES / "waterlogging.yaml"))
    (tmp_path / "example.test.yaml").write_text(example)
    assert [(r.name, r.diff) for r in run_file(tmp_path / "example.test.yaml")] == [
        ("water above 0.15 m for 5 minutes fires", [])]
