"""Why the model suggests a department: the words that weighed most, for the reviewer to check at a glance.

With a TF-IDF component the weights are exact (tf-idf value × the department's coefficient per n-gram),
but its features are character n-grams that cut across words (的依, 金不, 会公布). They are shown as words:
the text is segmented with jieba's dictionary, and a word weighs the sum of the weights of the n-grams
inside it, so every term shown is a whole word of the text and n-grams across a word boundary show nothing.
A transformer-only bundle is explained by occlusion: how much the department's probability drops when one
clause is left out.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator

import jieba
import numpy as np
from pydantic import BaseModel

from proposal_router.model.router import Router
from proposal_router.model.tfidf import NGRAM_RANGE

CLAUSE = re.compile(r"[^，。；！？、,.;!?\n]+")
MAX_CLAUSES = 40
WORD = re.compile(r"\w{2,}")  # a term shown: two letters or more, no punctuation or spaces

_segmenter: jieba.Tokenizer | None = None
_segmenter_lock = threading.Lock()


def segmenter() -> jieba.Tokenizer:
    """jieba's tokenizer with its default dictionary, loaded once (about a second) on first use."""
    global _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            jieba.setLogLevel(logging.WARNING)  # not "Building prefix dict..." on every start
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _segmenter = tokenizer
        return _segmenter


def words(text: str) -> Iterator[str]:
    """The words of `text` as the TF-IDF features see it (lower case, runs of spaces as one)."""
    normalised = " ".join(text.lower().split())
    for word in segmenter().cut(normalised, HMM=False):
        if WORD.fullmatch(word) and not word.isdigit():
            yield word


class Term(BaseModel):
    text: str
    weight: float


class Explainer:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.labels = router.labels.get("lead", [])  # served names: after a reform, the new ones
        heads = router.manifest.heads
        self.bundle_labels = heads["lead"].labels if "lead" in heads else []
        tfidf = router.tfidf
        self.tfidf = tfidf if tfidf is not None and "lead" in tfidf.heads else None
        self.vocabulary = {i: gram for gram, i in self.tfidf.index.items()} if self.tfidf else {}

    def terms(self, text: str, department: str, limit: int = 8) -> list[Term]:
        if department not in self.labels:
            return []
        if self.tfidf is None:
            return self._clauses(text, self.labels.index(department), limit)
        reform = self.router.reform
        # TF-IDF weights are the bundle's own columns: a merged department is explained by its first source
        column = reform.sources(department, self.bundle_labels)[0] if reform else self.bundle_labels.index(department)
        return self._ngrams(text, column, limit)

    def _ngrams(self, text: str, column: int, limit: int) -> list[Term]:
        """The words whose n-grams weigh most for the department's column, heaviest first."""
        assert self.tfidf is not None
        features, values = self.tfidf.features(text)
        weights = values * self.tfidf.heads["lead"][0][features, column]
        weight_of = {self.vocabulary[int(f)]: float(w) for f, w in zip(features, weights, strict=True)}
        low, high = NGRAM_RANGE
        scored: dict[str, float] = {}
        for word in words(text):
            if word not in scored:
                grams = {word[i : i + n] for n in range(low, high + 1) for i in range(len(word) - n + 1)}
                scored[word] = sum(weight_of.get(g, 0.0) for g in grams)
        chosen: list[Term] = []
        for word, weight in sorted(scored.items(), key=lambda item: (-item[1], item[0])):
            if weight <= 0 or len(chosen) == limit:
                break
            if any(word in t.text or t.text in word for t in chosen):
                continue  # a word inside another chosen one repeats the same evidence
            chosen.append(Term(text=word, weight=weight))
        return chosen

    def _clauses(self, text: str, column: int, limit: int) -> list[Term]:
        clauses = [m.group(0).strip() for m in CLAUSE.finditer(text) if len(m.group(0).strip()) >= 2][:MAX_CLAUSES]
        if len(clauses) < 2:
            return []
        variants = [text] + ["".join(c for j, c in enumerate(clauses) if j != i) for i in range(len(clauses))]
        probs = self.router.probabilities(variants)["lead"][:, column]
        drops = probs[0] - probs[1:]
        order = [int(i) for i in np.argsort(-drops) if drops[i] > 0][:limit]
        return [Term(text=clauses[i][:40], weight=float(drops[i])) for i in order]
