"""The human chain of a warning: every transition and every refusal, as a table."""
import pytest

from engine.chain import ACTIONS, ChainError, State, Step, answered, fold, transition

FIELDS = {"dispatch": {"department": "市排水管理处"}, "resolve": {"note": "pumped out"},
          "reply": {"message": "已处理"}, "assign": {"handler": "王工"},
          "comment": {"text": "on site"}}

ALLOWED = [
    (State.open, "acknowledge", State.acknowledged),
    (State.acknowledged, "dispatch", State.dispatched),
    (State.dispatched, "dispatch", State.dispatched),
    (State.dispatched, "resolve", State.resolved),
    (State.resolved, "reply", State.replied),
    (State.replied, "close", State.closed),
    (State.false_positive, "close", State.closed),
    *[(state, "false_positive", State.false_positive)
      for state in State if state not in (State.closed, State.false_positive)],
    *[(state, "assign", state) for state in State
      if state not in (State.closed, State.false_positive)],
    *[(state, "comment", state) for state in State],
]
REFUSED = [(state, action) for state in State for action in ACTIONS
           if not any(s == state and a == action for s, a, _ in ALLOWED)]


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED,
                         ids=[f"{s.value}-{a}" for s, a, _ in ALLOWED])
def test_allowed_transition_reaches_its_state(state, action, after):
    assert transition(state, action, FIELDS.get(action, {})) is after


@pytest.mark.parametrize(("state", "action"), REFUSED,
                         ids=[f"{s.value}-{a}" for s, a in REFUSED])
def test_refused_transition_says_which_step_is_missing(state, action):
    with pytest.raises(ChainError, match=f"cannot {action.replace('_', ' ')} a"):
        transition(state, action, FIELDS.get(action, {}))


@pytest.mark.parametrize(("action", "state"), [("dispatch", State.acknowledged),
                                               ("resolve", State.dispatched),
                                               ("reply", State.resolved),
                                               ("assign", State.open),
                                               ("comment", State.open)])
def test_action_without_its_required_field_is_refused(action, state):
    with pytest.raises(ChainError, match="needs a non-empty"):
        transition(state, action, {})


def test_unknown_action_is_refused_with_the_list_of_actions():
    with pytest.raises(ChainError, match="unknown action 'escalate'.*acknowledge"):
        transition(State.open, "escalate", {})


def test_the_full_chain_folds_to_closed():
    steps = [Step(action, 1000 * n, "ops", FIELDS.get(action, {}))
             for n, action in enumerate(["acknowledge", "dispatch", "comment", "resolve",
                                         "reply", "close"])]
    assert fold(steps) is State.closed


def test_false_positive_meets_every_sla_step():
    assert all(answered(State.false_positive, step)
               for step in ("acknowledge", "dispatch", "resolve"))
