"""The faults of `bench/chaos`, each on a short simulated feed: after every one the ledger holds
exactly the alert changes `ewe replay` gives for the events acknowledged, nothing lost,
duplicated, extra or stuck."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "chaos"))

import scenarios  # noqa: E402


@pytest.fixture(scope="module")
def events() -> list[bytes]:
    return scenarios.city(hours=3, devices=200, seed=11)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_after_the_fault_the_ledger_equals_the_replay(name, events, tmp_path):
    row = scenarios.run(name, tmp_path, events, pause_s=4)
    assert row.expected > 0 and row.acknowledged == len(events)
    assert (row.lost, row.duplicated, row.extra, row.stuck) == (0, 0, 0, 0), row
