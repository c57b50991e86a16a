"""The chain's deadlines: which step is due next, and which one a missed deadline escalates.

Deadlines count from the moment the ledger opened the alert (`DutyList.deadlines`); a step is
met once the chain state has passed it, and escalated at most once.

>>> deadlines = {"acknowledge": 300_000, "dispatch": 900_000, "resolve": 7_200_000}
>>> next_due(deadlines, State.open, ()), step_to_escalate(deadlines, State.open, ())
(300000, 'acknowledge')
>>> next_due(deadlines, State.open, ("acknowledge",))     # missed and escalated: the next one
900000
>>> next_due(deadlines, State.acknowledged, ())           # acknowledged: dispatch is next
900000
>>> next_due(deadlines, State.closed, ()) is None
True
>>> due_step(State.open, ("acknowledge",))
'dispatch'
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.chain import State, answered
from engine.duty import SLA_STEPS

__all__ = ["steps", "next_due", "due_step", "step_to_escalate"]


def steps(text: str) -> tuple[str, ...]:
    """The escalated steps as the ledger keeps them ("acknowledge,dispatch")."""
    return tuple(step for step in text.split(",") if step)


def next_due(deadlines: Mapping[str, int], state: State, escalated: Iterable[str]) -> int | None:
    """The earliest deadline not yet met nor escalated."""
    escalated = set(escalated)
    due = [at for step, at in deadlines.items() if step in SLA_STEPS
           and step not in escalated and not answered(state, step)]
    return min(due) if due else None


def due_step(state: State, escalated: Iterable[str]) -> str | None:
    """The step whose deadline `next_due` gives (the first neither met nor escalated)."""
    escalated = set(escalated)
    return next((step for step in SLA_STEPS
                 if step not in escalated and not answered(state, step)), None)


def step_to_escalate(deadlines: Mapping[str, int], state: State,
                     escalated: Iterable[str]) -> str:
    """The step whose deadline passed first among those neither met nor escalated."""
    escalated = set(escalated)
    return min((at, step) for step, at in deadlines.items()
               if step not in escalated and not answered(state, step))[1]
