"""The fuzz targets of `bench/fuzz` at 1,000 cases each: every hostile input is answered or
refused with the code's own error, within a second, and none of them runs code."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "fuzz"))

import targets  # noqa: E402

CASES = 1_000


@pytest.fixture(autouse=True)
def no_canary():
    targets.CANARY.unlink(missing_ok=True)
    yield
    assert not targets.CANARY.exists(), "an input ran code"


@pytest.mark.parametrize("name", ["decode", "rules", "expressions"])
def test_hostile_inputs_are_answered_or_refused_in_under_a_second(name):
    strategy, check = {"decode": (targets.EVENT_BYTES, targets.check_decode),
                       "rules": (targets.rule_file(), targets.check_rule_file),
                       "expressions": (targets.expression_text(), targets.check_expression)}[name]
    figures = targets.run(strategy, check, CASES)
    assert figures.cases == CASES and figures.failures == []


def test_hostile_http_bodies_get_no_server_error(broker):
    ingest = targets.HttpIngest(broker.bootstrap)
    try:
        figures = targets.run(targets.BODIES, ingest.check, CASES)
    finally:
        ingest.close()
    assert figures.cases == CASES and figures.failures == []
