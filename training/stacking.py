"""The linear stacker: one non-negative weight per component (and a bias for co), fitted on out-of-fold logits.

Stacking per-class coefficients would need far more rows than a year of proposals has; a weight per
component is a handful of parameters that 324 rows can fit, it calibrates at the same time (the weights
absorb the temperature), and it serves as the weighted sum `model.router.combine` already computes. A
component the data does not support gets weight 0 and is not served. The small L2 term keeps two
near-duplicate components from trading weight without limit.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_softmax

from proposal_router.model.calibration import Array

L2 = 1e-4
DROP_BELOW = 0.02
"""A component whose weighted logits spread less than this moves no probability by more than ~2%: not served."""


def _scales(logits: list[Array]) -> np.ndarray:
    """Start each weight at 1/spread of its logits, so the optimiser sees comparable coordinates."""
    return np.array([1.0 / max(float(np.std(z)), 1e-6) for z in logits])


def _kept(names: list[str], weights: np.ndarray, logits: dict[str, Array]) -> list[str]:
    """Components whose weighted logits still move the result; at least the strongest one."""
    effect = [w * float(np.std(logits[n])) for n, w in zip(names, weights, strict=True)]
    kept = [n for n, e in zip(names, effect, strict=True) if e >= DROP_BELOW]
    return kept or [names[int(np.argmax(effect))]]


def fit_softmax(logits: dict[str, Array], y: np.ndarray) -> dict[str, float]:
    """Weights minimising the mean negative log-likelihood of the true class."""
    names = list(logits)
    stacked = np.stack([logits[n] for n in names])
    scale = _scales(list(stacked))
    rows = np.arange(len(y))

    def loss(w: np.ndarray) -> float:
        z = np.tensordot(w * scale, stacked, axes=1)
        return float(-log_softmax(z, axis=1)[rows, y].mean() + L2 * np.sum(w**2))

    found = minimize(loss, np.ones(len(names)), method="L-BFGS-B", bounds=[(0.0, None)] * len(names))
    weights = found.x * scale
    kept = _kept(names, weights, logits)
    if len(kept) < len(names):
        return fit_softmax({n: logits[n] for n in kept}, y)
    return dict(zip(names, map(float, weights), strict=True))


def fit_sigmoid(logits: dict[str, Array], targets: Array) -> tuple[dict[str, float], float]:
    """Weights and a shared bias minimising the mean binary cross-entropy over every (row, label) cell."""
    names = list(logits)
    stacked = np.stack([logits[n] for n in names])
    scale = _scales(list(stacked))

    def loss(params: np.ndarray) -> float:
        z = np.tensordot(params[:-1] * scale, stacked, axes=1) + params[-1]
        p = np.clip(expit(z), 1e-12, 1 - 1e-12)
        bce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean()
        return float(bce + L2 * np.sum(params[:-1] ** 2))

    start = np.r_[np.ones(len(names)), -2.0]
    found = minimize(loss, start, method="L-BFGS-B", bounds=[(0.0, None)] * len(names) + [(None, None)])
    weights = found.x[:-1] * scale
    kept = _kept(names, weights, logits)
    if len(kept) < len(names):
        return fit_sigmoid({n: logits[n] for n in kept}, targets)
    return dict(zip(names, map(float, weights), strict=True)), float(found.x[-1])
