"""Cross-fitting: out-of-fold logits of every component for every row, then the stack chosen on them.

Every labelled row is used twice: to fit (in k-1 folds) and to measure (in the fold it was held out of).
The stacker's weights, the co-department threshold and the auto-routing threshold are all chosen on
these out-of-fold predictions of *all* rows, never on a small validation split: 54 validation rows chose a
blend that was worse on new writing than TF-IDF alone, and could never show 95% precision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import label_ranking_average_precision_score
from sklearn.model_selection import StratifiedKFold

from proposal_router.model.calibration import Array
from proposal_router.model.errors import SetupError
from proposal_router.model.manifest import Component, HeadName, HeadSpec
from proposal_router.model.router import combine
from proposal_router.training.components import (
    Corpus,
    LinearHeads,
    fit_cases,
    fit_prior,
    fit_tfidf,
    mention_scorer,
    targets,
)
from proposal_router.training.stacking import fit_sigmoid, fit_softmax

Logits = dict[str, dict[str, Array]]


def fold_indices(strata: list[str], folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (a class with fewer rows than folds is spread as far as it goes)."""
    if len(strata) < folds:
        raise SetupError(f"{folds} 折交叉拟合至少需要 {folds} 行有标注的数据，现有 {len(strata)} 行", option="folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only n members"
        return list(splitter.split(np.zeros(len(strata)), strata))


def _text_components(corpus: Corpus, candidates: list[Component], rows: np.ndarray, out: np.ndarray) -> Logits:
    """Fit the components that need no lead probabilities on `rows`; score the rows `out`."""
    logits: Logits = {}
    if "baseline" in candidates:
        logits["baseline"] = fit_tfidf(corpus, rows).logits(corpus.texts(out))
    if corpus.docs is not None:
        docs = corpus.docs[out]
        if "transformer" in candidates:
            logits["transformer"] = LinearHeads(corpus, rows).logits(docs)
        if "cases" in candidates:
            logits["cases"] = fit_cases(corpus, rows).logits(docs)
    return logits


def _place(target: Logits, part: Logits, rows: np.ndarray, n: int) -> None:
    for component, heads in part.items():
        for head, z in heads.items():
            full = target.setdefault(component, {}).setdefault(head, np.zeros((n, z.shape[1])))
            full[rows] = z


@dataclass
class CrossFitResult:
    heads: dict[HeadName, HeadSpec]
    probs: dict[str, Array]
    """Out-of-fold calibrated probabilities of every row, through the chosen stack."""
    scores: dict[str, dict[str, float]]
    components: list[Component]


def _score(head: str, z: Array, y: Array) -> float:
    """Accuracy for topic and lead; label-ranking average precision for co (no threshold needed)."""
    if head == "co":
        keep = y.sum(axis=1) > 0
        return float(label_ranking_average_precision_score(y[keep], z[keep])) if keep.any() else 0.0
    return float(np.mean(z.argmax(axis=1) == y))


def cross_fit(corpus: Corpus, candidates: list[Component], folds: int, seed: int) -> CrossFitResult:
    n = len(corpus.examples)
    main = "lead" if "lead" in corpus.heads else "topic"
    splits = fold_indices([str(getattr(e, main) or "") for e in corpus.examples], folds, seed)
    oof: Logits = {}
    for rows, out in splits:
        _place(oof, _text_components(corpus, candidates, rows, out), out, n)
    if "mentions" in candidates and "lead" in corpus.heads:
        oof["mentions"] = mention_scorer(corpus).logits(corpus.texts(np.arange(n)))

    heads: dict[HeadName, HeadSpec] = {}
    scores: dict[str, dict[str, float]] = {}

    def fit_head(head: HeadName, available: Logits) -> None:
        labels = corpus.labels[head]
        rows, y = targets(corpus.examples, head, labels)
        parts = {c: z[head][rows] for c, z in available.items() if head in z}
        scores[head] = {c: _score(head, z, y) for c, z in parts.items()}
        if head == "co":
            weights, bias = fit_sigmoid(parts, y)
            heads[head] = HeadSpec(labels=labels, kind="sigmoid", weights=weights, bias=bias)  # type: ignore[arg-type]
        else:
            heads[head] = HeadSpec(labels=labels, kind="softmax", weights=fit_softmax(parts, y))  # type: ignore[arg-type]

    if "lead" in corpus.heads:
        fit_head("lead", oof)
        if "prior" in candidates and any(h in corpus.heads for h in ("topic", "co")):
            lead_probs = combine(heads["lead"], oof, "lead")
            for rows, out in splits:
                _place(oof, {"prior": fit_prior(corpus, rows).logits(lead_probs[out])}, out, n)
    for head in corpus.heads:
        if head != "lead":
            fit_head(head, oof)  # type: ignore[arg-type]
    ordered = {h: heads[h] for h in corpus.heads}  # type: ignore[index]
    # The prior in `oof` was computed fold by fold from out-of-fold lead probabilities, as serving does.
    probs = {name: combine(spec, oof, name) for name, spec in ordered.items()}
    for head, p in probs.items():
        rows, y = targets(corpus.examples, head, corpus.labels[head])
        scores[head]["stack"] = _score(head, p[rows], y)
    used = sorted({c for spec in ordered.values() for c in spec.weights}, key=candidates.index)
    return CrossFitResult(ordered, probs, scores, used)  # type: ignore[arg-type]
