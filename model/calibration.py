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
