"""Why the model suggests a department: the words that weighed most, for the reviewer to check at a glance.

With a TF-IDF component the weights are exact (tf-idf value × the department's coefficient per n-gram).
A transformer-only bundle is explained by occlusion: how much the department's probability drops when one
clause is left out.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel

from proposal_router.model.router import Router

PUNCTUATION = "，。；：！？、,.;:!?（）()“”\"' \n"
CLAUSE = re.compile(r"[^，。；！？、,.;!?\n]+")
MAX_CLAUSES = 40


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
        assert self.tfidf is not None
        features, values = self.tfidf.features(text)
        weights = values * self.tfidf.heads["lead"][0][features, column]
        chosen: list[Term] = []
        for i in np.argsort(-weights):
            gram = self.vocabulary[int(features[i])].strip(PUNCTUATION)
            if weights[i] <= 0 or len(chosen) == limit:
                break
            if len(gram) < 2 or any(gram in t.text or t.text in gram for t in chosen):
                continue  # single characters say little; overlapping n-grams repeat the same evidence
            chosen.append(Term(text=gram, weight=float(weights[i])))
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
