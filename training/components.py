"""The components the stacker can choose from, each fitted on a set of rows and scoring any others.

Cross-fitting fits every component once per fold and once more on all rows, so fitting must be cheap:
the encoder is frozen and embeds each text once (`Corpus.docs`); per fold only linear heads, similarity
tables and counts are fitted. Each fitted component writes what its `model/` scorer reads at serving.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from proposal_router.model.calibration import Array
from proposal_router.model.cases import CaseScorer
from proposal_router.model.mentions import MentionScorer
from proposal_router.model.prior import LeadPrior
from proposal_router.training.baseline import MISSING_INTERCEPT, BaselineModel
from proposal_router.training.data import Example

CASES_K = 3


@dataclass
class Corpus:
    """The labelled rows with everything the components read; `docs` rows align with `examples`."""

    examples: list[Example]
    heads: list[str]
    labels: dict[str, list[str]]
    statements: list[Example] = field(default_factory=list)
    """The taxonomy's own words: duty statements (labelled lead) and topic descriptions (labelled topic)."""
    docs: Array | None = None
    statement_queries: Array | None = None
    statement_passages: Array | None = None
    names: dict[str, list[str]] = field(default_factory=dict)
    baseline_c: float = 0.5
    head_c: float = 3.0

    def texts(self, rows: np.ndarray) -> list[str]:
        return [self.examples[i].text for i in rows]


def targets(examples: list[Example], head: str, labels: list[str]) -> tuple[np.ndarray, Array]:
    """Rows with a known label for `head` and their targets (class index, or a 0/1 matrix for `co`)."""
    if head == "co":
        rows = np.array([i for i, e in enumerate(examples) if e.co is not None], dtype=int)
        y = np.array([[name in (examples[i].co or []) for name in labels] for i in rows], dtype=float)
        return rows, y.reshape(len(rows), len(labels))
    index = {name: k for k, name in enumerate(labels)}
    rows = np.array([i for i, e in enumerate(examples) if getattr(e, head) in index], dtype=int)
    return rows, np.array([index[getattr(examples[i], head)] for i in rows], dtype=int)


class LinearHeads:
    """Logistic-regression heads on frozen encoder vectors, saved as the `heads.npz` serving reads."""

    def __init__(self, corpus: Corpus, rows: np.ndarray) -> None:
        assert corpus.docs is not None
        examples = [corpus.examples[i] for i in rows] + corpus.statements
        extra = [corpus.statement_queries] if corpus.statement_queries is not None else []
        docs = np.vstack([corpus.docs[rows], *extra])
        self.weights: dict[str, tuple[Array, Array]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for head in corpus.heads:
                labels = corpus.labels[head]
                known, y = targets(examples, head, labels)
                w = np.zeros((len(labels), docs.shape[1]))
                b = np.full(len(labels), MISSING_INTERCEPT)
                columns = [(k, y[:, k]) for k in range(len(labels))] if head == "co" else [(None, y)]
                for col, target in columns:
                    if len(np.unique(target)) < 2:
                        continue
                    model = LogisticRegression(C=corpus.head_c, max_iter=3000).fit(docs[known], target)
                    if col is not None:
                        w[col], b[col] = model.coef_[0], model.intercept_[0]
                    elif len(model.classes_) == 2:
                        w[model.classes_], b[model.classes_] = (
                            np.vstack([-model.coef_[0], model.coef_[0]]) / 2,
                            np.array([-1.0, 1.0]) * model.intercept_[0] / 2,
                        )
                    else:
                        w[model.classes_], b[model.classes_] = model.coef_, model.intercept_
                self.weights[head] = (w, b)

    def logits(self, docs: Array) -> dict[str, Array]:
        return {head: docs @ w.T + b for head, (w, b) in self.weights.items()}

    def save(self, directory: Path) -> None:
        arrays: dict[str, Array] = {}
        for head, (w, b) in self.weights.items():
            arrays[f"weight_{head}"], arrays[f"bias_{head}"] = w, b
        np.savez(directory / "heads.npz", allow_pickle=False, **arrays)


def fit_tfidf(corpus: Corpus, rows: np.ndarray) -> BaselineModel:
    examples = [corpus.examples[i] for i in rows] + corpus.statements
    return BaselineModel(corpus.heads, corpus.labels, c=corpus.baseline_c).fit(examples)


def fit_cases(corpus: Corpus, rows: np.ndarray) -> CaseScorer:
    """The rows' vectors, then the taxonomy statements' (as passages: E5 compares queries with passages)."""
    assert corpus.docs is not None
    examples = [corpus.examples[i] for i in rows]
    passages = corpus.statement_passages
    statements = corpus.statements if passages is not None else []
    vectors = corpus.docs[rows] if passages is None else np.vstack([corpus.docs[rows], passages])
    members: dict[str, np.ndarray] = {}
    for head in corpus.heads:
        owned = [(e.co or []) if head == "co" else [getattr(e, head)] for e in examples]
        # A duty statement says what its department leads or co-handles; a topic description, its topic.
        owned += [[getattr(e, "lead" if head == "co" else head)] for e in statements]
        members[head] = np.array([[name in own for name in corpus.labels[head]] for own in owned], dtype=bool)
    return CaseScorer(vectors, members, CASES_K)


def fit_prior(corpus: Corpus, rows: np.ndarray) -> LeadPrior:
    """Add-one smoothed P(topic | lead) and P(co | lead) from the rows that know both."""
    leads = corpus.labels["lead"]
    tables: dict[str, Array] = {}
    for head in ("topic", "co"):
        if head not in corpus.heads:
            continue
        labels = corpus.labels[head]
        counts = np.zeros((len(leads), len(labels)))
        totals = np.zeros(len(leads))
        for i in rows:
            e = corpus.examples[i]
            if e.lead not in leads:
                continue
            own = (e.co if head == "co" else [e.topic]) if (e.co if head == "co" else e.topic) is not None else None
            if own is None:
                continue
            r = leads.index(e.lead)
            totals[r] += 1
            for name in own:
                if name in labels:
                    counts[r, labels.index(name)] += 1
        if head == "topic":
            tables[head] = (counts + 1) / (totals[:, None] + len(labels))
        else:
            tables[head] = (counts + 0.5) / (totals[:, None] + 1.0)
    return LeadPrior(tables)


def mention_scorer(corpus: Corpus) -> MentionScorer:
    heads: dict[str, list[str]] = {h: corpus.labels[h] for h in ("lead", "co") if h in corpus.heads}
    return MentionScorer(corpus.names, heads)
