"""Training the 审查立案 screener: proper proposals (the training rows) against filings the committee did not
accept (exported rejections, their ground as label), with each ground's description as one more example.

The threshold is chosen on out-of-fold probabilities of every row (stratified folds), as the routing
threshold is: the lowest that flags at most `max_proper_flagged` of the proper proposals, so the reviewers'
queue is not filled with false alarms. Its out-of-fold recall on the rejected filings is reported.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from proposal_router.model.errors import DataError, RowIssue
from proposal_router.model.intake.records import ColumnMap, read_proposals
from proposal_router.model.intake.tables import read_table
from proposal_router.model.screening import GROUND_DESCRIPTIONS, PROPER, SCREENING, Ground, ScreeningInfo
from proposal_router.model.tfidf import char_ngrams
from proposal_router.training.baseline import save_tfidf

GROUND_COLUMN = "ground"
MAX_PROPER_FLAGGED = 0.03
FOLDS = 5


@dataclass(frozen=True)
class Rejected:
    text: str
    ground: Ground


def load_rejections(paths: list[str], columns: ColumnMap, ground_column: str = GROUND_COLUMN) -> list[Rejected]:
    """Rejected filings with their ground; every unknown ground is reported with file, row and column."""
    rejected: list[Rejected] = []
    issues: list[RowIssue] = []
    codes = {g.value: g for g in Ground}
    for path in paths:
        table = read_table(path)
        if ground_column not in table.columns:
            issues.append(RowIssue(path, None, ground_column, f"找不到此列：不予立案的文件须有「{ground_column}」列"))
            continue
        rows, _ = read_proposals(table, columns if set(columns.title) & set(table.columns) else ColumnMap())
        for row in rows:
            code = str(row.raw.get(ground_column) or "").strip()
            if not code:
                continue  # rejected for a reason not among the grounds: nothing to learn the ground from
            if code not in codes:
                known = "、".join(codes)
                issues.append(RowIssue(path, row.row, ground_column, f"未知的不予立案理由 {code!r}；可用：{known}"))
                continue
            rejected.append(Rejected(row.proposal.text, codes[code]))
    if issues:
        raise DataError(issues)
    return rejected


def _model(texts: list[str], labels: list[int]) -> tuple[TfidfVectorizer, LogisticRegression]:
    vectorizer = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=2, max_features=200_000)
    x = vectorizer.fit_transform(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(x, labels)
    return vectorizer, classifier


def fit_screener(proper: list[str], rejected: list[Rejected], out: Path, seed: int = 0) -> ScreeningInfo:
    """Fit on every row, choose the threshold out of fold, write screening/ under `out` (the serving part)."""
    grounds = sorted({r.ground for r in rejected}, key=list(Ground).index)
    labels = [PROPER, *[g.value for g in grounds]]
    texts = proper + [r.text for r in rejected]
    y = np.array([0] * len(proper) + [labels.index(r.ground.value) for r in rejected])
    extra_texts = [GROUND_DESCRIPTIONS[g] for g in grounds]
    extra_y = [labels.index(g.value) for g in grounds]
    folds = min(FOLDS, int(np.bincount(y).min()))
    improper = np.zeros(len(texts))
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for fit_rows, held in splitter.split(texts, y):
            fit_texts = [texts[i] for i in fit_rows] + extra_texts
            vectorizer, classifier = _model(fit_texts, [*y[fit_rows].tolist(), *extra_y])
            probs = classifier.predict_proba(vectorizer.transform([texts[i] for i in held]))
            improper[held] = 1.0 - probs[:, list(classifier.classes_).index(0)]
    proper_scores = np.sort(improper[: len(proper)])
    allowed = int(np.floor(MAX_PROPER_FLAGGED * len(proper)))
    threshold = float(proper_scores[-allowed - 1]) + 1e-6 if len(proper) > allowed else 0.5
    threshold = min(max(threshold, 0.5), 0.999)  # never flag on less than even odds
    flagged = improper >= threshold
    metrics = {
        "oof_recall": float(flagged[len(proper) :].mean()) if rejected else 0.0,
        "oof_proper_flagged": float(flagged[: len(proper)].mean()) if proper else 0.0,
        "rows_proper": float(len(proper)),
        "rows_rejected": float(len(rejected)),
    }
    vectorizer, classifier = _model(texts + extra_texts, [*y.tolist(), *extra_y])
    directory = out / SCREENING
    coef, intercept = classifier.coef_.T, classifier.intercept_
    if coef.shape[1] == 1:  # two classes: scikit-learn keeps one column; softmax wants both
        coef, intercept = np.hstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    save_tfidf(directory, vectorizer, {"ground": (coef, intercept)})
    return ScreeningInfo(labels=labels, threshold=round(threshold, 6), metrics=metrics)
