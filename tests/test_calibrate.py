from __future__ import annotations

import numpy as np
import pytest

from model.calibration import softmax
from training.calibrate import auto_threshold, best_multilabel_threshold, fit_blend, fit_temperature, wilson_lower
from training.splits import stratified_split


def test_temperature_recovers_the_true_one() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 5))
    probs = softmax(logits, 2.5)
    y = np.array([rng.choice(5, p=p) for p in probs])
    assert abs(fit_temperature(logits, y, "softmax") - 2.5) < 0.25


def test_blend_ignores_a_useless_second_model() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    good = np.eye(3)[y] * 3 + rng.normal(0, 1, (600, 3))
    noise = rng.normal(0, 1, (600, 3))
    weight, _ = fit_blend(good, noise, y, "softmax", (0.0, 0.5, 1.0, 2.0))
    assert weight == 0.0


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


def test_multilabel_threshold_maximises_micro_f1() -> None:
    probs = np.array([[0.8, 0.3], [0.35, 0.1], [0.2, 0.6]])
    targets = np.array([[1, 1], [0, 0], [0, 1]], dtype=float)
    assert best_multilabel_threshold(probs, targets) == 0.25


def test_split_is_stratified_reproducible_and_keeps_rare_classes_in_training() -> None:
    labels = ["a"] * 20 + ["b"] * 10 + ["rare"] * 2
    val, test, train = stratified_split(labels, (0.2, 0.2), seed=0)
    assert sorted(val + test + train) == list(range(32))
    assert [labels[i] for i in val].count("a") == 4 and [labels[i] for i in val].count("b") == 2
    assert all(labels[i] != "rare" for i in val + test)
    assert (val, test, train) == tuple(stratified_split(labels, (0.2, 0.2), seed=0))
