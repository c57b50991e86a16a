"""The published JSON Schema of rule files agrees with the loader on the shipped rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.yamlpos import load, plain

ROOT = Path(__file__).parent.parent
VALIDATOR = Draft202012Validator(json.loads((ROOT / "docs" / "rules.schema.json").read_text()))
RULE_FILES = sorted(path for path in (ROOT / "rules").glob("*.yaml") if path.stem != "duty")


@pytest.mark.parametrize("path", RULE_FILES + [ROOT / "tests/testdata/all-shapes.good.yaml"],
                         ids=lambda p: p.name)
def test_valid_rule_file_conforms_to_the_schema(path):
    document = plain(load(path.read_text()))
    assert [e.message for e in VALIDATOR.iter_errors(document)] == []


@pytest.mark.parametrize("case", ["unknown-key", "bad-duration", "two-shapes", "unknown-severity",
                                  "sequence-without-within", "missing-severity", "bad-on"])
def test_the_schema_also_refuses_structurally_bad_files(case):
    text = (ROOT / "tests" / "testdata" / f"{case}.bad.yaml").read_text()
    assert not VALIDATOR.is_valid(plain(load(text)))



def test_the_schema_names_every_detector_the_loader_knows():
    from engine.anomaly import DETECTORS

    detector = VALIDATOR.schema["$defs"]["model"]["properties"]["detector"]
    assert set(detector["enum"]) == set(DETECTORS)


DUTY_SCHEMA = Draft202012Validator(
    json.loads((ROOT / "docs" / "duty.schema.json").read_text()))


def test_a_duty_list_with_rosters_conforms_to_its_schema():
    from datetime import date

    from test_rosters import DUTY

    document = plain(load(DUTY))
    for shifts in document["rosters"].values():     # as an editor reads a date: text
        for shift in shifts:
            if isinstance(shift.get("date"), date):
                shift["date"] = shift["date"].isoformat()
    assert [e.message for e in DUTY_SCHEMA.iter_errors(document)] == []


def test_the_shipped_duty_list_conforms_to_its_schema():
    document = plain(load((ROOT / "rules" / "duty.yaml").read_text()))
    assert [e.message for e in DUTY_SCHEMA.iter_errors(document)] == []


@pytest.mark.parametrize("text", [
    "sla:\n  purple: {acknowledge: 5m}\n",
    "sla:\n  red: {acknowledge: soon}\n",
    "sla:\n  red: {acknowlege: 5m}\n",
    "silences:\n  red: {guest: 1h}\n",
    "grouping: {by: [labels.category]}\n",
    "grouping:\n  by: [building]\n  window: 30m\n",
    "duty:\n  - match: {labels.category: gas}\n",
    "duty:\n  - match: {place: x}\n    department: d\n",
    "inhibit:\n  - source: {rule: a}\n",
    "routes: []\n",
    "rosters:\n  d:\n    - {days: daily, from: 8am, to: '20:00', handlers: [a]}\n",
    "rosters:\n  d:\n    - {from: '08:00', to: '20:00', handlers: [a]}\n",
])
def test_the_duty_schema_refuses_what_the_loader_refuses(text):
    from engine.duty import load_duty
    from engine.rulefile import RuleFileError

    with pytest.raises(RuleFileError):
        load_duty(text, "duty.yaml")
    assert not DUTY_SCHEMA.is_valid(plain(load(text)))
