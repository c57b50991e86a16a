"""One module per rule shape; `build` compiles a spec into the shape it declares."""
from __future__ import annotations

from engine.rulefile import RuleSpec
from engine.shapes.absence import AbsenceRule
from engine.shapes.base import ROUTING_FIELDS, Item, Rule
from engine.shapes.condition import ConditionRule
from engine.shapes.sequence import SequenceRule

__all__ = ["build", "Item", "Rule", "ROUTING_FIELDS"]


def build(spec: RuleSpec, records: list, indexed: tuple[str, ...]) -> Rule:
    """The compiled rule for a spec; it appends its alert records to `records`. `indexed`: the
    `match` fields the evaluator's dispatch guarantees, which the rule need not test again (a
    sequence's steps test their own)."""
    if spec.shape == "sequence":
        return SequenceRule(spec, records)
    if spec.shape == "absence":
        return AbsenceRule(spec, records, indexed)
    return ConditionRule(spec, records, indexed)
