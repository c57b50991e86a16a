"""Rule files as an attack (or a careless author): every one is refused quickly, with the file,
the line and the reason, and never with a traceback, a hang or gigabytes of memory."""
from __future__ import annotations

import time
import warnings

import pytest

from engine.events import Event
from engine.pack import Pack
from engine.rulefile import MAX_FILE_BYTES, RuleFileError, load_paths, load_text

RULE = "  - id: r{n}\n    on: reading\n    when: {when}\n    severity: blue\n"
BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else '1, 2, 3, 4, 5, 6'}]\n"
               for i in range(10)) + "rules: []\n"

HOSTILE = {
    # case: (file text, line, fragment of the reason)
    "billion-laughs": (BOMB, 5, "the aliases repeat more than 10,000 values"),
    "aliases": ("x: &x 1\nrules:\n" + "".join("  - *x\n" for _ in range(101)), 103,
                "more than 100 YAML aliases"),
    "deep-yaml": ("rules:\n" + "".join("  " * i + "- \n" for i in range(1, 60)), 33,
                  "nested more than 32 levels deep"),
    "deep-flow-yaml": ("rules: " + "[" * 5000 + "]" * 5000 + "\n", 1,
                       "nested more than 32 levels deep"),
    "150-parentheses": ("rules:\n" + RULE.format(n=1, when="(" * 150 + "value > 1" + ")" * 150),
                        4, "nested more than 32 levels deep"),
    "40-not": ("rules:\n" + RULE.format(n=1, when="not " * 40 + "value > 1"), 4,
                 "nested more than 32 levels deep"),
    "600-operators": ("rules:\n" + RULE.format(n=1, when="+".join(["1"] * 600) + " > 1"),
                      4, "more than 512 operators"),
    "long-expression": ("rules:\n" + RULE.format(n=1, when="value > 1 or " * 400 + "true"),
                        4, "longer than 4000 characters"),
    "5000-digits": ("rules:\n" + RULE.format(n=1, when="value > " + "9" * 5000), 4,
                    "longer than 4000 characters"),
    "50-digits": ("rules:\n" + RULE.format(n=1, when="value > " + "9" * 50), 4,
                  "a number of more than 40 characters"),
    "huge-float": ("rules:\n" + RULE.format(n=1, when="value > 1e999"), 4,
                   "the number 1e999 is too large"),
    "backreference": ("rules:\n" + RULE.format(n=1, when="matches(text, '(a)\\\\1')"), 4,
                      "invalid regular expression"),
    "lookahead": ("rules:\n" + RULE.format(n=1, when="matches(text, 'a(?=b)')"), 4,
                  "no backreferences or lookaround"),
    "template-width": ("rules:\n" + RULE.format(n=1, when="value > 1")
                       + "    summary: '{value:999999999}'\n", 6,
                       "widths and precisions up to 100"),
    "year-long-duration": ("rules:\n" + RULE.format(n=1, when="value > 1") + "    for: 400d\n",
                           6, "longer than a year"),
    "huge-duration": ("rules:\n" + RULE.format(n=1, when="value > 1") + "    for: "
                      + "9" * 5000 + "d\n", 6, "bad duration"),
    "control-character": ("rules:\n  - id: a\x01\n", 2, "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_rule_file_is_refused_with_file_line_and_reason_in_a_second(case):
    text, line, fragment = HOSTILE[case]
    began = time.perf_counter()
    with pytest.raises(RuleFileError) as caught:
        load_text(text, "hostile.yaml")
    assert time.perf_counter() - began < 1.0
    first = caught.value.errors[0]
    assert (first.file, first.line) == ("hostile.yaml", line), str(caught.value)
    assert fragment in first.message, str(caught.value)


def test_a_file_over_the_size_limit_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "w") as out:
        out.write("rules:\n")
        rule = RULE.format(n="{}", when="value > 1")
        n = 0
        while out.tell() <= MAX_FILE_BYTES:
            out.write(rule.replace("r{}", f"r{n}"))
            n += 1
    began = time.perf_counter()
    with pytest.raises(RuleFileError, match="larger than 4 MiB: split the pack"):
        load_paths([path])
    assert time.perf_counter() - began < 0.5


def test_a_long_chain_of_and_terms_is_one_flat_condition():
    when = " and ".join(f"value != {n}" for n in range(199))
    spec = load_text("rules:\n" + RULE.format(n=1, when=when), "ok.yaml")[0][0]
    assert spec.when.test(Event("reading", "r", 0, value=500.0), ()) is True


def test_a_pathological_regular_expression_runs_in_linear_time():
    pack = Pack.from_text("rules:\n" + RULE.format(n=1, when="matches(text, '(a+)+$')"))
    began = time.perf_counter()
    assert pack.specs[0].when.test(Event("report", "t", 0, text="a" * 5000 + "b"), ()) is False
    assert time.perf_counter() - began < 0.05


def test_every_error_of_a_pack_comes_at_once_in_line_order():
    text = ("rules:\n"
            "  - id: A\n"                         # 2: a bad id, and still checked on
            "    on: reading\n"
            "    whn: value > 1\n"                # 4
            "    severity: purple\n"              # 5
            "  - id: b\n"
            "    on: reading\n"
            "    when: value >\n"                 # 8
            "    for: 5 minutes\n"                # 9
            "    severity: red\n")
    with pytest.raises(RuleFileError) as caught:
        load_text(text, "many.yaml")
    assert [error.line for error in caught.value.errors] == [2, 2, 4, 5, 8, 9]


def test_a_number_as_a_condition_is_refused_without_a_python_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuleFileError, match="is not a condition"):
            load_text("rules:\n" + RULE.format(n=1, when="1"), "one.yaml")
