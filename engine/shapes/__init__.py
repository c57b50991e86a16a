"""One module per rule shape; `build` compiles a spec into the shape it declares."""
from __future__ import annotations

from engine.rulefile import RuleSpec
from engine.shapes.absence import AbsenceRule
from engine.shapes.base import ROUTING_FIELDS, Item, Rule
from engine.shapes.condition import ConditionRule
from engine.shapes.sequence import SequenceRule

__all__ = ["build", "Item", "Rule", "ROUTING_FIELDS"]


def build(spec: RuleSpec, records: list) -> Rule:
    """The compiled rule for a spec; it appends its alert records to `records`."""
    if spec.shape == "sequence":
        return SequenceRule(spec, records)
    routed = ["kind"]
    if len(spec.on) == 1 and ROUTING_FIELDS[spec.on[0]] in spec.match:
        routed.append(ROUTING_FIELDS[spec.on[0]])
    if spec.shape == "absence":
        return AbsenceRule(spec, records, tuple(routed))
    return ConditionRule(spec, records, tuple(routed))
