from __future__ import annotations

from pathlib import Path

import numpy as np

from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.tfidf import TfidfScorer, char_ngrams
from proposal_router.training.baseline import BaselineModel
from proposal_router.training.data import load_labelled


def test_char_ngrams_fold_case_and_whitespace() -> None:
    assert char_ngrams("Ab  c") == ["a", "b", " ", "c", "ab", "b ", " c", "ab ", "b c"]


def test_numpy_scorer_matches_scikit_learn(tmp_path: Path, train_csv: Path) -> None:
    data = load_labelled(train_csv, ColumnMap(), None)
    model = BaselineModel(data.heads, data.labels).fit(data.examples)
    model.save(tmp_path / "baseline")
    texts = [e.text for e in data.examples[:10]] + ["完全没有见过的文字", ""]
    expected = model.logits(texts)
    served = TfidfScorer(tmp_path / "baseline").logits(texts)
    assert set(served) == {"topic", "lead", "co"}
    for head in served:
        np.testing.assert_allclose(served[head], expected[head], atol=1e-5)
    accuracy = np.mean(
        [data.labels["lead"][i] == e.lead for i, e in zip(served["lead"].argmax(1), data.examples[:10], strict=False)]
    )
    assert accuracy == 1.0
