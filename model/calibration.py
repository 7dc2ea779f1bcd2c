"""Calibrated probabilities from raw scores: temperature scaling shared by training and serving."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def softmax(logits: Array, temperature: float = 1.0) -> Array:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


def sigmoid(logits: Array, temperature: float = 1.0) -> Array:
    z = np.asarray(logits, dtype=np.float64) / temperature
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def wilson_lower(hits: np.ndarray, counts: np.ndarray, z: float = 1.645) -> np.ndarray:
    """One-sided 95% lower confidence bound of a proportion (Wilson score interval): training chooses the
    auto-routing threshold with it, the service checks the audited precision in production with it."""
    p = hits / counts
    centre = p + z * z / (2 * counts)
    spread = z * np.sqrt(p * (1 - p) / counts + z * z / (4 * counts * counts))
    bound: np.ndarray = (centre - spread) / (1 + z * z / counts)
    return bound
