from __future__ import annotations

import numpy as np
import pytest

from proposal_router.model.calibration import softmax, wilson_lower
from proposal_router.training.calibrate import auto_threshold, best_co_threshold
from proposal_router.training.splits import stratified_split
from proposal_router.training.stacking import fit_sigmoid, fit_softmax


def test_stacker_recovers_the_temperature_and_drops_a_useless_component() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 5))
    y = np.array([rng.choice(5, p=p) for p in softmax(logits, 2.5)])
    weights = fit_softmax({"good": logits, "noise": rng.normal(0, 3, size=(4000, 5))}, y)
    assert set(weights) == {"good"} and weights["good"] == pytest.approx(1 / 2.5, rel=0.1)


def test_sigmoid_stacker_fits_weights_and_a_bias() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=(3000, 4))
    targets = (rng.random((3000, 4)) < 1 / (1 + np.exp(-(1.5 * z - 2.0)))).astype(float)
    weights, bias = fit_sigmoid({"signal": z, "constant": np.zeros_like(z)}, targets)
    assert list(weights) == ["signal"]
    assert weights["signal"] == pytest.approx(1.5, rel=0.1) and bias == pytest.approx(-2.0, abs=0.2)


def test_auto_threshold_needs_evidence_not_just_a_high_rate() -> None:
    confidence = np.linspace(0.99, 0.5, 22)
    correct = np.array([1.0] * 21 + [0.0])
    threshold, _, coverage = auto_threshold(confidence, correct, 0.95)
    assert threshold > 1.0 and coverage == 0.0  # 21/22 right cannot show 95% precision


def test_auto_threshold_is_the_lowest_whose_lower_bound_meets_the_target() -> None:
    confidence = np.linspace(0.999, 0.3, 400)
    correct = np.r_[np.ones(300), np.zeros(20), np.ones(80)].astype(float)
    threshold, precision, coverage = auto_threshold(confidence, correct, 0.95)
    n = round(coverage * 400)
    assert 300 < n < 320 and threshold == pytest.approx(confidence[n - 1]) and precision == 300 / n
    hits = np.cumsum(correct)
    assert wilson_lower(hits[n - 1 : n], np.array([n]))[0] >= 0.95 > wilson_lower(hits[n : n + 1], np.array([n + 1]))[0]


def test_auto_threshold_never_splits_ties() -> None:
    confidence = np.r_[np.full(200, 0.9), [0.5]]
    correct = np.r_[np.ones(199), [0.0], [1.0]]
    threshold, _, coverage = auto_threshold(confidence, correct, 0.999)
    assert threshold > 1.0 and coverage == 0.0


def test_co_threshold_maximises_micro_f1_of_what_serving_would_suggest() -> None:
    labels = ["甲", "乙", "丙"]
    probs = np.array([[0.9, 0.8, 0.3], [0.35, 0.1, 0.2], [0.2, 0.6, 0.7]])
    gold = [{"乙"}, set(), {"乙"}]
    # Row 1's 0.9 is its lead and never suggested; 0.3 and 0.35 would be wrong, so the best cut is above them.
    threshold = best_co_threshold(labels, probs, gold, ["甲", None, "丙"])
    assert 0.35 < threshold <= 0.6


def test_split_is_stratified_reproducible_and_keeps_rare_classes_in_training() -> None:
    labels = ["a"] * 20 + ["b"] * 10 + ["rare"] * 2
    val, test, train = stratified_split(labels, (0.2, 0.2), seed=0)
    assert sorted(val + test + train) == list(range(32))
    assert [labels[i] for i in val].count("a") == 4 and [labels[i] for i in val].count("b") == 2
    assert all(labels[i] != "rare" for i in val + test)
    assert (val, test, train) == tuple(stratified_split(labels, (0.2, 0.2), seed=0))
