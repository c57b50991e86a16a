"""Our NAB scorer on hand-made cases whose scores follow from the definition."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.anomaly.nab import (
    REWARD_LOW_FN,
    REWARD_LOW_FP,
    STANDARD,
    Series,
    probation_rows,
    raw_score,
    score,
    sigmoid,
)

N = 100        # rows per hand-made series: 15 rows of probation


def series(alarms: dict[int, float], windows: list[tuple[int, int]]) -> Series:
    return Series("s", [alarms.get(i, 0.0) for i in range(N)], windows)


def test_sigmoid_matches_the_published_shape():
    assert math.isclose(sigmoid(-1), 0.9866, abs_tol=1e-4)
    assert sigmoid(0) == 0 and math.isclose(sigmoid(1), -0.9866, abs_tol=1e-4)


def test_an_alarm_at_the_start_of_every_window_scores_100():
    corpus = [series({40: 1.0}, [(40, 49)]), series({60: 1.0, 80: 1.0}, [(60, 69), (80, 89)])]
    assert math.isclose(score(corpus, STANDARD).score, 100.0)


def test_never_alarming_scores_0_with_no_threshold():
    result = score([series({}, [(40, 49)])], STANDARD)
    assert (result.score, result.threshold, result.raw) == (0.0, None, -1.0)


def test_an_alarm_at_the_last_row_of_a_window_earns_almost_nothing():
    credit = sigmoid(-1 / 10) / sigmoid(-1)           # p = -(b - i + 1) / w = -1/10
    assert math.isclose(raw_score(series({49: 1.0}, [(40, 49)]), 0.5, STANDARD), credit)
    assert 0 < credit < 0.3


def test_only_the_first_alarm_in_a_window_counts():
    assert raw_score(series({40: 1.0, 45: 1.0, 49: 1.0}, [(40, 49)]), 0.5, STANDARD) == 1.0


def test_a_false_alarm_before_any_window_costs_a_fp():
    assert math.isclose(raw_score(series({20: 1.0}, []), 0.5, STANDARD), -0.11)
    assert math.isclose(raw_score(series({20: 1.0}, []), 0.5, REWARD_LOW_FP), -0.22)


def test_a_false_alarm_right_after_a_window_costs_less_than_a_late_one():
    just_after = raw_score(series({50: 1.0}, [(40, 49)]), 0.5, STANDARD) + 1.0   # window missed
    expected = 0.11 * sigmoid((50 - 49) / (10 - 1))
    assert math.isclose(just_after, expected)
    far = raw_score(series({90: 1.0}, [(40, 49)]), 0.5, STANDARD) + 1.0        # p > 3: full cost
    assert math.isclose(far, -0.11) and far < just_after < 0


def test_a_missed_window_costs_a_fn_per_profile():
    assert raw_score(series({}, [(40, 49)]), 0.5, REWARD_LOW_FN) == -2.0


def test_alarms_in_the_probation_period_are_not_scored():
    assert probation_rows(N) == 15 and probation_rows(100_000) == 750
    assert raw_score(series({5: 1.0}, []), 0.5, STANDARD) == 0.0


def test_the_threshold_that_maximises_the_corpus_score_is_chosen():
    # 0.9 catches the window late and raises no false alarm; 0.5 catches it early but with five
    # false alarms: 1.0 - 5 * 0.11 = 0.45 beats the late catch.
    late = sigmoid(-2 / 10) / sigmoid(-1)
    corpus = [series({48: 0.9, 40: 0.5, 20: 0.5, 22: 0.5, 24: 0.5, 26: 0.5, 28: 0.5},
                     [(40, 49)])]
    result = score(corpus, STANDARD)
    best = max(late, 1.0 - 5 * 0.11)
    assert result.threshold == (0.9 if late > 0.45 else 0.5)
    assert math.isclose(result.raw, best)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]), min_size=N,
                         max_size=N), min_size=1, max_size=3),
       st.sampled_from([[], [(30, 39)], [(20, 29), (60, 79)]]))
def test_the_one_pass_optimum_equals_trying_every_threshold(all_scores, windows):
    corpus = [Series(str(i), scores, windows) for i, scores in enumerate(all_scores)]
    for profile in (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN):
        candidates = {s for scores in all_scores for s in scores}
        brute = max([sum(raw_score(s, t, profile) for s in corpus) for t in candidates]
                    + [-profile.fn * len(windows) * len(corpus)])
        assert math.isclose(score(corpus, profile).raw, brute, abs_tol=1e-9)
