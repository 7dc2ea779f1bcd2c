"""Reproducible stratified splits that keep rare classes in the training part."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: list[str], fractions: tuple[float, ...], seed: int = 0) -> list[list[int]]:
    """Split indices into len(fractions)+1 parts: the given fractions, then the rest (training).

    Each class contributes round(n·fraction) items to every held-out part, but classes with fewer than
    len(fractions)+1 members stay entirely in training so every class can still be learned.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for label in sorted(by_class):
        idx = list(rng.permutation(by_class[label]))
        if len(idx) <= len(fractions):
            parts[-1].extend(idx)
            continue
        start = 0
        for p, fraction in enumerate(fractions):
            if fraction <= 0:
                continue
            take = max(1, round(len(idx) * fraction))
            take = min(take, len(idx) - start - 1)
            parts[p].extend(idx[start : start + take])
            start += take
        parts[-1].extend(idx[start:])
    return [sorted(int(i) for i in part) for part in parts]
