"""The TF-IDF baseline: character 1–3-grams with linear SVMs; trains in seconds, serves with numpy."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from proposal_router.model.calibration import Array
from proposal_router.model.tfidf import char_ngrams
from proposal_router.training.data import Example

MISSING_INTERCEPT = -10.0


def _svm(c: float) -> LinearSVC:
    return LinearSVC(C=c, class_weight="balanced", max_iter=5000)


def _multiclass(x: sparse.csr_matrix, y: list[str], labels: list[str], c: float) -> tuple[Array, Array]:
    """Features × labels weights in the bundle's label order; unseen labels can never win."""
    coef = np.zeros((x.shape[1], len(labels)))
    intercept = np.full(len(labels), MISSING_INTERCEPT)
    model = _svm(c).fit(x, y)
    classes = list(model.classes_)
    weights, bias = model.coef_, model.intercept_
    if len(classes) == 2:
        weights, bias = np.vstack([-weights[0], weights[0]]) / 2, np.array([-bias[0], bias[0]]) / 2
    for row, name in enumerate(classes):
        col = labels.index(name)
        coef[:, col], intercept[col] = weights[row], bias[row]
    return coef, intercept


def _multilabel(x: sparse.csr_matrix, sets: list[list[str]], labels: list[str], c: float) -> tuple[Array, Array]:
    coef = np.zeros((x.shape[1], len(labels)))
    intercept = np.full(len(labels), MISSING_INTERCEPT)
    for col, name in enumerate(labels):
        y = np.array([name in s for s in sets])
        if 0 < y.sum() < len(y):
            model = _svm(c).fit(x, y)
            coef[:, col], intercept[col] = model.coef_[0], model.intercept_[0]
    return coef, intercept


class BaselineModel:
    def __init__(self, heads: list[str], labels: dict[str, list[str]], c: float = 0.5, max_features: int = 400_000):
        self.heads, self.labels, self.c = heads, labels, c
        self.vectorizer = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, max_features=max_features)
        self.weights: dict[str, tuple[Array, Array]] = {}

    def fit(self, examples: list[Example]) -> BaselineModel:
        x = self.vectorizer.fit_transform([e.text for e in examples]).tocsr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for head in self.heads:
                if head == "co":
                    rows = [i for i, e in enumerate(examples) if e.co is not None]
                    sets = [examples[i].co or [] for i in rows]
                    self.weights[head] = _multilabel(x[rows], sets, self.labels[head], self.c)
                else:
                    rows = [i for i, e in enumerate(examples) if getattr(e, head)]
                    y = [str(getattr(examples[i], head)) for i in rows]
                    self.weights[head] = _multiclass(x[rows], y, self.labels[head], self.c)
        return self

    def logits(self, texts: list[str]) -> dict[str, Array]:
        x = self.vectorizer.transform(texts)
        return {head: np.asarray(x @ coef) + intercept for head, (coef, intercept) in self.weights.items()}

    def save(self, directory: Path) -> None:
        save_tfidf(directory, self.vectorizer, self.weights)


def save_tfidf(directory: Path, vectorizer: TfidfVectorizer, weights: dict[str, tuple[Array, Array]]) -> None:
    """Write what `model.tfidf.TfidfScorer` reads: n-grams in column order, idf, and each head's
    features × classes weights with intercepts."""
    directory.mkdir(parents=True, exist_ok=True)
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    (directory / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    arrays: dict[str, Array] = {"idf": vectorizer.idf_}
    for head, (coef, intercept) in weights.items():
        arrays[f"coef_{head}"] = coef.astype(np.float32)
        arrays[f"intercept_{head}"] = intercept
    np.savez_compressed(directory / "weights.npz", allow_pickle=False, **arrays)
