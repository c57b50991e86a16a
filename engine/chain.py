"""The human chain of one warning: open → acknowledged → dispatched → resolved → replied → closed.

Separate from the alert's condition (firing / resolved by the rule): a warning whose water went
down before anyone looked is condition-resolved and chain-open, and stays visible as such.
`false_positive` can end the chain from any step before it is closed. `assign` and `comment`
change no state. Every step is an append-only `Step`; the current state is the fold of them.

>>> state = State.open
>>> state = transition(state, "acknowledge", {})
>>> state = transition(state, "dispatch", {"department": "市排水管理处"})
>>> state.value
'dispatched'
>>> transition(state, "close", {})
Traceback (most recent call last):
    ...
engine.chain.ChainError: cannot close a dispatched alert: close follows reply
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = ["State", "ACTIONS", "HUMAN_ACTIONS", "ChainError", "FieldError", "Step", "transition",
           "fold", "answered"]


class State(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    dispatched = "dispatched"
    resolved = "resolved"
    replied = "replied"
    closed = "closed"
    false_positive = "false_positive"


class ChainError(ValueError):
    """An action that the alert's chain state does not allow."""


class FieldError(ChainError):
    """An action without a field it needs (`dispatch` without a `department`), or with one it
    does not take."""


class _Action(NamedTuple):
    allowed_from: frozenset[State]
    to: State | None              # None: the state stays as it is
    requires: tuple[str, ...]     # fields the action must carry, non-empty
    hint: str                     # why it is refused elsewhere
    accepts: tuple[str, ...]      # every field it takes, the required ones included


_LIVE = frozenset(State) - {State.closed, State.false_positive}

ACTIONS: Mapping[str, _Action] = {
    "acknowledge": _Action(frozenset({State.open}), State.acknowledged, (),
                           "only an open alert can be acknowledged", ("note",)),
    # Re-dispatching to another department is a dispatch from dispatched.
    "dispatch": _Action(frozenset({State.acknowledged, State.dispatched}), State.dispatched,
                        ("department",), "dispatch follows acknowledge",
                        ("department", "handler", "note")),
    "resolve": _Action(frozenset({State.dispatched}), State.resolved, ("note",),
                       "resolve follows dispatch", ("note",)),
    "reply": _Action(frozenset({State.resolved}), State.replied, ("message",),
                     "reply follows resolve", ("message",)),
    "close": _Action(frozenset({State.replied, State.false_positive}), State.closed, (),
                     "close follows reply", ("note",)),
    "false_positive": _Action(_LIVE, State.false_positive, (),
                              "the alert's chain has already ended", ("note",)),
    "assign": _Action(_LIVE, None, ("handler",), "the alert's chain has already ended",
                      ("handler",)),
    "comment": _Action(frozenset(State), None, ("text",), "", ("text",)),
}
HUMAN_ACTIONS = tuple(ACTIONS)


class Step(NamedTuple):
    """One recorded action: what was done, by whom, at which instant (ms), with which fields."""

    action: str
    at: int
    actor: str
    fields: Mapping[str, Any]


def transition(state: State, action: str, fields: Mapping[str, Any]) -> State:
    """The state after `action`, or ChainError saying why the action is refused."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise ChainError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
    if state not in rule.allowed_from:
        described = state.value.replace("_", " ")
        article = "an" if described[0] in "aeiou" else "a"
        raise ChainError(f"cannot {action.replace('_', ' ')} {article} {described} alert: "
                         f"{rule.hint}")
    for name in rule.requires:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise FieldError(f"{action} needs a non-empty {name!r}")
    return state if rule.to is None else rule.to


def fold(steps: Iterable[Step], start: State = State.open) -> State:
    """The state that a history of accepted steps leads to."""
    state = start
    for step in steps:
        state = transition(state, step.action, step.fields)
    return state


def answered(state: State, step: str) -> bool:
    """Whether an SLA step (acknowledge, dispatch, resolve) has been met in this state.

    >>> answered(State.dispatched, "acknowledge"), answered(State.dispatched, "resolve")
    (True, False)
    >>> answered(State.false_positive, "resolve")
    True
    """
    order = (State.open, State.acknowledged, State.dispatched, State.resolved)
    if state in (State.replied, State.closed, State.false_positive):
        return True
    reached = {"acknowledge": State.acknowledged, "dispatch": State.dispatched,
               "resolve": State.resolved}[step]
    return order.index(state) >= order.index(reached)
