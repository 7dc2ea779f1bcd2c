"""The "words that weighed most" are whole words of the text, not character n-grams cut across words."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from proposal_router.model.explain import Explainer, words
from proposal_router.model.router import Router
from tests.conftest import REPO

TEXT = (
    "关于提高住房公积金的依法缴存比例的提案。部分企业缴存公积金不足，职工买房贷款难；"
    "建议市政府按季度向社会公布缴存情况。"
)


def _cut_ngrams(explainer: Explainer, text: str, column: int) -> list[str]:
    """The heaviest n-grams as the page showed them before: pieces of the text, words or not."""
    assert explainer.tfidf is not None
    features, values = explainer.tfidf.features(text)
    weights = values * explainer.tfidf.heads["lead"][0][features, column]
    grams = [explainer.vocabulary[int(features[i])].strip() for i in np.argsort(-weights) if weights[i] > 0]
    return [g for g in grams if len(g) >= 2][:8]


def test_terms_are_words_of_the_text_heaviest_first(demo_bundle: Path) -> None:
    router = Router(demo_bundle)
    explainer = Explainer(router)
    department = "市住房和城乡建设局"
    segmented = set(words(TEXT))
    cut = _cut_ngrams(explainer, TEXT, explainer.bundle_labels.index(department))
    assert any(g not in segmented for g in cut), "this text should have n-grams that cross word boundaries"
    terms = explainer.terms(TEXT, department)
    assert terms and {"住房", "公积金"} <= {t.text for t in terms}
    assert all(t.text in segmented for t in terms), [t.text for t in terms]
    assert not {"金不", "的依", "会公布"} & {t.text for t in terms}
    weights = [t.weight for t in terms]
    assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
    assert len({t.text for t in terms}) == len(terms)


def test_every_demo_explanation_is_in_words(demo_bundle: Path) -> None:
    router = Router(demo_bundle)
    explainer = Explainer(router)
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:30]
    shown = 0
    for row in rows:
        text = f"{row['title']}\n{row['body']}"
        segmented = set(words(text))
        terms = explainer.terms(text, row["lead_department"])
        shown += len(terms)
        assert all(t.text in segmented and len(t.text) >= 2 for t in terms), (row["id"], [t.text for t in terms])
        assert not any(a.text != b.text and a.text in b.text for a in terms for b in terms)
    assert shown >= 5 * len(rows)  # most explanations fill their eight places
    assert explainer.terms(TEXT, "市不存在局") == []
