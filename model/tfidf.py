"""Character n-gram TF-IDF with linear heads, served with numpy alone (no scikit-learn at run time).

Training fits scikit-learn's TfidfVectorizer with `char_ngrams` as its analyzer, so both sides split text
the same way; `TfidfScorer` then reproduces its sublinear-tf · idf · l2 weighting exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array

NGRAM_RANGE = (1, 3)


def char_ngrams(text: str) -> list[str]:
    text = " ".join(text.lower().split())
    low, high = NGRAM_RANGE
    return [text[i : i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)]


class TfidfScorer:
    """Scores texts with the linear heads saved by training (`vocabulary.json` + `weights.npz`).

    `coef_<head>` is stored features × classes so a text's few n-grams gather whole rows.
    """

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        vocabulary = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        self.index: dict[str, int] = {gram: i for i, gram in enumerate(vocabulary)}
        with np.load(directory / "weights.npz") as weights:
            self.idf = weights["idf"]
            self.heads = {
                key[len("coef_") :]: (weights[key], weights["intercept_" + key[len("coef_") :]])
                for key in weights.files
                if key.startswith("coef_")
            }

    def features(self, text: str) -> tuple[np.ndarray, Array]:
        counts = Counter(self.index[g] for g in char_ngrams(text) if g in self.index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[idx]
        values /= np.linalg.norm(values)
        return idx, values

    def cosine(self, a: str, b: str) -> float:
        """How alike two texts are in the bundle's tf-idf space (both vectors have unit length)."""
        (ia, va), (ib, vb) = self.features(a), self.features(b)
        _, at_a, at_b = np.intersect1d(ia, ib, assume_unique=True, return_indices=True)
        return float(va[at_a] @ vb[at_b])

    def logits(self, texts: list[str]) -> dict[str, Array]:
        feats = [self.features(t) for t in texts]
        out: dict[str, Array] = {}
        for head, (coef, intercept) in self.heads.items():
            rows = [values @ coef[idx] + intercept for idx, values in feats]
            out[head] = np.vstack(rows) if rows else np.zeros((0, coef.shape[1]))
        return out
