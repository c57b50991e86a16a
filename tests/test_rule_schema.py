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
