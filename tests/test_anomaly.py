"""Anomaly detectors: one conformance suite for all, plus what each is for."""
from __future__ import annotations

import pickle
import random

import pytest

from engine.anomaly import DETECTORS, make_detector
from engine.anomaly.base import gaussian_score
from engine.anomaly.calibration import TailCalibration
from engine.anomaly.change import CUSUM
from engine.anomaly.composite import Composite
from engine.anomaly.ensemble import Ensemble
from engine.anomaly.extreme import NewExtreme
from engine.anomaly.hst import HalfSpaceTrees
from engine.anomaly.novelty import Novelty
from engine.anomaly.seasonal import SeasonalZScore
from engine.anomaly.zscore import ZScore

CLASSES = [ZScore, SeasonalZScore, CUSUM, HalfSpaceTrees, Ensemble, Novelty, NewExtreme,
           Composite]
HOUR = 3_600_000


def stream(n: int, seed: int = 0, spike_at: int | None = None) -> list[dict]:
    rng = random.Random(seed)
    points = []
    for i in range(n):
        value = 10.0 + rng.gauss(0, 1)
        if i == spike_at:
            value += 12.0
        points.append({"t": i * 300_000, "value": value})
    return points


def run(detector, points: list[dict]) -> list[float]:
    scores = []
    for x in points:
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_scores_stay_in_the_unit_interval(cls):
    scores = run(cls(**cls._unit_test_params()), stream(400, spike_at=300))
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_score_one_changes_nothing(cls):
    detector = cls(**cls._unit_test_params())
    points = stream(200)
    run(detector, points[:150])
    before = pickle.dumps(detector)
    detector.score_one(points[150])
    detector.score_one({"t": 0, "value": 1e6})
    assert run(detector, points[150:]) == run(pickle.loads(before), points[150:])


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_restored_detector_scores_like_one_that_never_stopped(cls):
    points = stream(300, seed=3, spike_at=250)
    uninterrupted = run(cls(**cls._unit_test_params()), points)
    first = cls(**cls._unit_test_params())
    head = run(first, points[:120])
    restored = pickle.loads(pickle.dumps(first))
    assert head + run(restored, points[120:]) == uninterrupted


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_clone_is_fresh_and_the_same_parameters_give_the_same_scores(cls):
    detector = cls(**cls._unit_test_params())
    points = stream(200, seed=5)
    scores = run(detector, points)
    assert run(detector.clone(), points) == scores


@pytest.mark.parametrize("cls", [ZScore, SeasonalZScore, CUSUM, NewExtreme],
                         ids=lambda c: c.__name__)
def test_state_stays_bounded_however_long_the_stream(cls):
    detector = cls(**cls._unit_test_params())
    run(detector, stream(100))
    size = len(pickle.dumps(detector))
    run(detector, stream(5_000, seed=1))
    assert len(pickle.dumps(detector)) <= size + 64


@pytest.mark.parametrize("cls", [ZScore, HalfSpaceTrees, Ensemble, Novelty, NewExtreme,
                                 Composite], ids=lambda c: c.__name__)
def test_an_injected_spike_scores_higher_than_every_normal_point(cls):
    params = cls._unit_test_params()
    if cls is HalfSpaceTrees:
        params = {"n_trees": 10, "height": 6, "window_size": 50, "warmup": 100}
    scores = run(cls(**params), stream(600, seed=2, spike_at=500))
    normal = scores[150:500] + scores[501:]
    assert scores[500] > max(normal)


def test_seasonal_z_score_flags_a_meter_running_at_night():
    detector = SeasonalZScore(fading_factor=0.2, warmup=3)
    rng = random.Random(4)
    day = [0, 0, 0, 0, 0, 0, 30, 50, 20, 10, 10, 10, 15, 10, 10, 10, 10, 20, 40, 50, 30, 10, 5, 0]
    for hour in range(24 * 14):
        detector.learn_one({"t": hour * HOUR, "value": day[hour % 24] + rng.random()})
    night, morning = 24 * 14 + 3, 24 * 14 + 7
    assert detector.score_one({"t": night * HOUR, "value": 45.0}) > 0.999
    assert detector.score_one({"t": morning * HOUR, "value": 50.0}) < 0.9


def test_cusum_catches_a_small_lasting_shift_that_a_z_score_misses():
    rng = random.Random(6)
    points = [{"value": (0.0 if i < 400 else 1.0) + rng.gauss(0, 1)} for i in range(500)]
    shift = run(CUSUM(threshold=8.0), points)
    z = run(ZScore(fading_factor=0.01), points)
    assert max(shift[:400]) < 0.5 < max(shift[400:450])
    assert max(z[400:450]) < 0.9999


def daily_peaks(days: int, stuck_day: int | None = None, night_from: int | None = None,
                seed: int = 12) -> list[dict]:
    """A load with a daily peak (8 of 48 readings a day at 80, else 0). On `stuck_day` it stays
    at 40 all day; from day `night_from` on, the rest of the day sits at 30 instead of 0."""
    rng = random.Random(seed)
    points = []
    for i in range(days * 48):
        day, slot = divmod(i, 48)
        level = 80.0 if 16 <= slot < 24 else (30.0 if night_from is not None
                                               and day >= night_from else 0.0)
        if day == stuck_day:
            level = 40.0
        points.append({"value": level + rng.uniform(-1, 1)})
    return points


COMPOSITE = {"cusum": {"threshold": 8.0, "drift": 0.5},
             "novelty": {"width": 8, "history": 1_000, "reference": 500}}


def test_novelty_of_a_repeating_rhythm_is_low_and_of_a_stretch_never_seen_high():
    scores = run(Novelty(width=8, history=1_000, reference=500, warmup=20),
                 daily_peaks(12, stuck_day=10))
    assert max(scores[10 * 48:11 * 48]) > 10 * max(scores[5 * 48:10 * 48])


def test_novelty_of_a_stationary_series_passes_one_half_about_once_in_a_hundred():
    scores = run(Novelty(width=16, history=2_000, reference=1_000, warmup=50),
                 stream(6_000, seed=1))[1_000:]
    assert 0.005 < sum(s >= 0.5 for s in scores) / len(scores) < 0.02


def test_novelty_keeps_at_most_its_history_of_shapes():
    detector = Novelty(width=8, history=100, reference=50, warmup=10)
    run(detector, stream(2_000))
    assert detector._rows <= 2 * (100 + 8)


def test_a_new_extreme_scores_by_its_excess_over_the_range():
    detector = NewExtreme(margin=0.1, warmup=2)
    for value in (0.0, 10.0, 5.0):
        detector.learn_one({"value": value})
    scores = [detector.score_one({"value": v}) for v in (7.0, 10.5, 11.0, -2.0, 20.0)]
    assert scores[0] == 0.0 and scores[1] < 0.5
    assert scores[2] == pytest.approx(0.5) and scores[3] > 0.5 and scores[4] > 0.9


def test_composite_stays_quiet_on_a_daily_rhythm_that_a_cusum_alarms_on_every_day():
    points = daily_peaks(12)
    cusum = run(CUSUM(**COMPOSITE["cusum"]), points)
    composite = run(Composite(**COMPOSITE), points)
    assert sum(s >= 0.5 for s in cusum[5 * 48:]) >= 7
    assert max(composite[5 * 48:]) < 0.5


def test_composite_alarms_once_when_the_night_level_rises_to_one_never_seen():
    scores = run(Composite(**COMPOSITE), daily_peaks(12, night_from=10))
    alarms = [i for i, s in enumerate(scores) if s >= 0.5]
    assert len(alarms) == 1 and 10 * 48 <= alarms[0] < 10 * 48 + 24


def test_gaussian_scores_of_normal_data_spread_evenly_over_the_unit_interval():
    rng = random.Random(8)
    scores = sorted(gaussian_score(rng.gauss(0, 1)) for _ in range(20_000))
    for quantile in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        assert abs(scores[int(quantile * len(scores))] - quantile) < 0.02


def test_z_scores_of_normal_data_are_calibrated_after_warmup():
    detector = ZScore(fading_factor=0.005, warmup=200)
    scores = run(detector, [{"value": random.Random(9).gauss(5, 2)} for _ in range(1)]
                 + stream(20_000, seed=9))[500:]
    scores.sort()
    for quantile in (0.25, 0.5, 0.9):
        assert abs(scores[int(quantile * len(scores))] - quantile) < 0.05


def test_tail_calibration_turns_any_raw_scale_into_even_scores():
    rng = random.Random(10)
    calibration = TailCalibration(lower=0, upper=100, bins=400, fading_factor=0.0005)
    scores = []
    for _ in range(20_000):
        raw = rng.expovariate(0.2)                     # a skewed raw measure
        scores.append(calibration.score(raw))
        calibration.learn(raw)
    tail = sorted(scores[5_000:])
    for quantile in (0.25, 0.5, 0.9):
        assert abs(tail[int(quantile * len(tail))] - quantile) < 0.05


def test_make_detector_refuses_unknown_names_and_parameters():
    assert set(DETECTORS) == {"zscore", "seasonal", "cusum", "half_space_trees", "ensemble",
                              "novelty", "new_extreme", "composite"}
    with pytest.raises(ValueError, match="unknown detector 'nope'"):
        make_detector("nope")
    with pytest.raises(ValueError, match="unexpected keyword argument 'bogus'"):
        make_detector("zscore", bogus=1)
    with pytest.raises(ValueError, match="fading_factor must be in"):
        make_detector("zscore", fading_factor=2)


def test_the_array_detector_scores_exactly_like_one_z_score_per_key():
    import numpy as np

    from engine.anomaly.batch import ZScoreArray

    rng = random.Random(11)
    keys = [f"d{rng.randrange(40)}" for _ in range(3_000)]        # keys repeat inside batches
    values = [rng.gauss(10, 2) + (30 if i == 2_500 else 0) for i in range(3_000)]
    array = ZScoreArray(fading_factor=0.05, warmup=5)
    batched = np.concatenate([array.score_learn(keys[i:i + 500], np.array(values[i:i + 500]))
                              for i in range(0, 3_000, 500)])
    singles: dict[str, ZScore] = {}
    expected = []
    for key, value in zip(keys, values, strict=True):
        detector = singles.setdefault(key, ZScore(fading_factor=0.05, warmup=5))
        expected.append(detector.score_one({"value": value}))
        detector.learn_one({"value": value})
    assert np.allclose(batched, expected, rtol=0, atol=1e-12)


def test_the_array_detector_restores_exactly():
    import numpy as np

    from engine.anomaly.batch import ZScoreArray

    rng = np.random.default_rng(12)
    keys = [f"k{i % 100}" for i in range(2_000)]
    values = rng.normal(5, 1, 2_000)
    whole = ZScoreArray(warmup=3)
    expected = whole.score_learn(keys, values)
    first = ZScoreArray(warmup=3)
    head = first.score_learn(keys[:700], values[:700])
    restored = ZScoreArray.from_bytes(first.to_bytes())
    assert np.array_equal(np.concatenate([head, restored.score_learn(keys[700:], values[700:])]),
                          expected)
