"""The rule loader: what it accepts, and every way it refuses a file (with file and line)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.pack import Pack
from engine.rulefile import RuleFileError, load_paths
from ewe.cli import main

TESTDATA = Path(__file__).parent / "testdata"

# bad file -> (line of the first error, fragment of its message)
REFUSALS = {
    "unknown-key": (5, "unknown key 'whn' (did you mean 'when'?)"),
    "bad-duration": (5, "for: bad duration '5 minutes'"),
    "unsafe-expression": (4, "'__class__' is not a field name"),
    "unknown-function": (4, "unknown function 'eval'"),
    "invalid-expression": (4, "column 8: expected a value"),
    "not-a-condition": (4, "is not a condition (it gives a number)"),
    "window-without-duration": (4, "count() needs a duration such as 10m"),
    "bad-regex": (5, "invalid regular expression '('"),
    "duplicate-id": (6, "duplicate rule id 'a.b' (first defined at"),
    "missing-id": (2, "`id` is required"),
    "bad-on": (3, "`on` must be reading, report or [reading, report]"),
    "two-shapes": (5, "`absent_for` cannot be combined with `when` (line 4)"),
    "no-shape": (2, "a rule needs `when`, `absent_for` or `sequence`"),
    "sequence-without-within": (5, "a `sequence` needs `within`"),
    "for-with-absence": (5, "`for` does not apply to a rule with `absent_for`"),
    "unknown-severity": (5, "unknown severity 'purple'"),
    "missing-severity": (2, "`severity` is required"),
    "bad-labels": (6, "`labels` must map names to texts"),
    "bad-match": (4, "match: type must be a value or a list of values"),
    "report-rule-without-key": (2, "rules on reports need a `key`"),
    "bad-template": (6, "summary: bad format '.2q' for {value}"),
    "yaml-syntax": (5, "invalid YAML"),
    "duplicate-yaml-key": (5, "duplicate key 'when' (first at line 4)"),
    "unknown-detector": (3, "unknown detector 'magic' (known: composite, cusum, ensemble"),
    "bad-feature": (5, "features: valu: column 1: unknown field 'valu'"),
    "score-without-model": (2, "score('water-level'): no model of that id (models: none)"),
    "empty-file": (1, "empty file"),
    "rules-not-a-list": (1, "`rules:` must be a list of rules"),
    "flow-mapping-comma": (5, "a {...} mapping ends each value at a comma"),
    "bad-key": (4, "`key` must be a field"),
    "kind-not-in-on": (4, "match: kind ['report'] is not among `on: ['reading']`"),
    "bad-param-name": (5, "params: unknown parameter 'fading_factr' (did you mean "
                          "'fading_factor'?)"),
    "bad-param-type": (5, "params: fading_factor: expected a number, got 'banana'"),
    "bad-param-value": (5, "params: fading_factor must be in (0, 1), got 5"),
}


def test_every_bad_fixture_has_an_expected_refusal():
    assert {p.name.removesuffix(".bad.yaml") for p in TESTDATA.glob("*.bad.yaml")} == set(REFUSALS)


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_rule_file_is_refused_with_file_line_and_reason(case):
    path = TESTDATA / f"{case}.bad.yaml"
    line, fragment = REFUSALS[case]
    with pytest.raises(RuleFileError) as caught:
        load_paths([path])
    first = caught.value.errors[0]
    assert (first.file, first.line) == (str(path), line)
    assert fragment in first.message
    assert str(first).startswith(f"{path}:{line}: ")


def test_good_file_with_every_shape_and_window_function_loads():
    pack = Pack.load([TESTDATA / "all-shapes.good.yaml"])
    assert {spec.shape for spec in pack.specs} == {"condition", "absence", "sequence"}
    functions = {w.function for spec in pack.specs for w in spec.windows} | {
        w.function for spec in pack.specs for step in spec.sequence for w in step.windows}
    assert functions == {"count", "avg_count", "delta", "previous", "first_seen", "stddev", "rate",
                         "min", "max", "sum", "distinct"}


def test_every_error_of_every_file_is_reported_at_once(tmp_path):
    (tmp_path / "one.yaml").write_text((TESTDATA / "unknown-key.bad.yaml").read_text())
    (tmp_path / "two.yaml").write_text((TESTDATA / "bad-on.bad.yaml").read_text()
                                       + "  - id: c\n    on: reading\n    severity: red\n")
    with pytest.raises(RuleFileError) as caught:
        load_paths([tmp_path])
    assert [(Path(e.file).name, e.line) for e in caught.value.errors] == [
        ("one.yaml", 5), ("two.yaml", 3), ("two.yaml", 6)]


def test_duplicate_id_across_files_names_both_places(tmp_path):
    rule = "rules:\n  - id: same.id\n    on: reading\n    when: value > 1\n    severity: blue\n"
    (tmp_path / "a.yaml").write_text(rule)
    (tmp_path / "b.yaml").write_text(rule)
    with pytest.raises(RuleFileError) as caught:
        load_paths([tmp_path])
    assert str(caught.value) == (f"{tmp_path / 'b.yaml'}:2: duplicate rule id 'same.id' "
                                 f"(first defined at {tmp_path / 'a.yaml'}:2)")


def test_yes_and_on_are_text_not_booleans(tmp_path):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: a\n    on: reading\n"
                                     "    match: {attrs.door: on}\n    when: value > 1\n"
                                     "    severity: blue\n")
    assert Pack.load([tmp_path]).specs[0].match == {"attrs.door": ("on",)}


def test_rules_check_exits_1_and_prints_every_error(capsys):
    code = main(["rules", "check", str(TESTDATA / "two-shapes.bad.yaml"),
                 str(TESTDATA / "bad-on.bad.yaml")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0].endswith("two-shapes.bad.yaml:5: rule 1 \"a.b\": `absent_for` cannot be "
                           "combined with `when` (line 4): a rule has one shape")
    assert err[1].endswith("bad-on.bad.yaml:3: rule 1 \"a.b\": `on` must be reading, report or "
                           "[reading, report]")
    assert err[2] == "2 errors"


def test_rules_check_exits_0_on_the_shipped_pack(capsys):
    assert main(["rules", "check", str(Path(__file__).parent.parent / "rules")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
