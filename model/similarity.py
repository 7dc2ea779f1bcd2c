"""并案 candidates: earlier filings that ask the same thing, found through an inverted index of character
n-grams, so a lookup against a 12345 year (100,000 stored texts) reads the postings of its own n-grams
instead of scanning every text.

A text is its character bigrams and trigrams (punctuation and spaces dropped, so the same words score the
same however they are punctuated) weighted by TF-IDF and normalised; two texts' similarity is the cosine of
those vectors. The postings hold each text's weight per n-gram, so summing them over the query's n-grams
gives the cosine with every text that shares one, and zero for the rest. N-grams in more than
`max_df_share` of the texts ("提案", "建议加") weigh little and would make a lookup read a large share of the
index: they are left out of the postings (so a cosine is slightly under its full value). A text repeated
exactly is always found, at 1. IDF is fixed when the index is built; texts added later are weighted under it.

Built with numpy in a few vectorised passes over all texts at once (the serving install has no
scikit-learn or scipy): an n-gram is the int64 of its code points, and the postings are one CSR sorted by
n-gram.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAX_DF_SHARE = 0.05
_DROPPED = re.compile(r"[\s\W_]+", re.UNICODE)
_BITS = 21  # a Unicode code point fits in 21 bits, so three fit one int64
NGRAMS = (2, 3)

Int = NDArray[np.int64]
Float = NDArray[np.float64]


def normalised(text: str) -> str:
    """The text as compared: NFKC, lower case, no spaces or punctuation."""
    return _DROPPED.sub("", unicodedata.normalize("NFKC", text)).lower()


def _grams(points: Int, lengths: Int, n: int) -> tuple[Int, Int]:
    """The character n-grams of texts laid end to end (`lengths` each) as int64 keys, and their texts."""
    if points.size < n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = np.zeros(points.size - n + 1, dtype=np.int64)
    for offset in range(n):
        keys = (keys << _BITS) | points[offset : points.size - n + 1 + offset]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    owner = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)[: keys.size]
    inside = np.arange(keys.size) <= (starts + lengths - n)[owner]  # within one text, not across two
    return keys[inside], owner[inside]


def _codes(texts: Sequence[str]) -> tuple[Int, Int]:
    """Each text's bigram and trigram keys (disjoint: a trigram's first character sets bits a bigram's
    cannot reach) and the text each key belongs to, for all texts in one pass. Bigrams are word-like in
    Chinese (电梯, 补贴) and match a paraphrase; trigrams reward the same wording."""
    clean = [normalised(t) for t in texts]
    joined = "".join(c.ljust(NGRAMS[-1], "\0") if c else "" for c in clean)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    lengths = np.array([max(len(c), NGRAMS[-1]) if c else 0 for c in clean], dtype=np.int64)
    parts = [_grams(points, lengths, n) for n in NGRAMS]
    return np.concatenate([k for k, _ in parts]), np.concatenate([o for _, o in parts])


def _distinct(owner: Int, keys: Int) -> tuple[Int, Int, Int]:
    """The distinct (text, key) pairs and how often each occurs (np.unique with axis=1 is far slower)."""
    order = np.lexsort((keys, owner))
    owner, keys = owner[order], keys[order]
    new = np.ones(keys.size, dtype=bool)
    new[1:] = (owner[1:] != owner[:-1]) | (keys[1:] != keys[:-1])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, keys.size))
    return owner[starts], keys[starts], counts


@dataclass(frozen=True)
class Match:
    """A stored text like the query, and how alike (cosine of TF-IDF trigram vectors, 0-1)."""

    id: str
    similarity: float


class _Postings:
    """One CSR of (trigram → texts, weights), for texts numbered from `first`."""

    def __init__(self, keys: Int, texts: Int, weights: Float, first: int) -> None:
        order = np.lexsort((texts, keys))
        keys, self.texts, self.weights = keys[order], texts[order] + first, weights[order]
        self.grams, starts = np.unique(keys, return_index=True)
        self.starts = np.append(starts, keys.size)

    def gather(self, grams: Int, weights: Float) -> tuple[Int, Float]:
        if not self.grams.size:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        at = np.minimum(np.searchsorted(self.grams, grams), self.grams.size - 1)
        found = self.grams[at] == grams
        spans = [(self.starts[i], self.starts[i + 1], w) for i, w in zip(at[found], weights[found], strict=True)]
        if not spans:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        where = np.concatenate([self.texts[a:b] for a, b, _ in spans])
        how_much = np.concatenate([self.weights[a:b] * w for a, b, w in spans])
        return where, how_much


class SimilarityIndex:
    """Stored texts by id; `similar` answers which of them a new text is like."""

    def __init__(self, texts: Sequence[str] = (), ids: Sequence[str] = (), max_df_share: float = MAX_DF_SHARE) -> None:
        if len(texts) != len(ids):
            raise ValueError("texts and ids differ in length")
        keys, owner = _codes(texts)
        self._vocabulary, df = np.unique(_distinct(owner, keys)[1], return_counts=True)
        n = max(1, len(texts))
        self._idf = np.log((1 + n) / (1 + df)) + 1.0
        self._unseen_idf = float(np.log(1 + n) + 1.0)
        self._max_df = max(2, int(max_df_share * n))
        self._common = self._vocabulary[df > self._max_df]
        self.ids: list[str] = list(ids)
        self._exact: dict[str, list[int]] = {}
        for position, text in enumerate(texts):
            self._exact.setdefault(normalised(text), []).append(position)
        self._base = self._postings(keys, owner, 0)
        self._added: list[str] = []
        self._delta: _Postings | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _weights(self, keys: Int, owner: Int) -> tuple[Int, Int, Float]:
        """Each text's distinct trigrams and their normalised TF-IDF weights (common trigrams dropped after
        the norm is taken, so they lower the cosine a little instead of raising it)."""
        if not keys.size:
            return keys, owner, np.zeros(0)
        texts, grams, counts = _distinct(owner, keys)
        idf = np.full(grams.size, self._unseen_idf)
        if self._vocabulary.size:
            at = np.minimum(np.searchsorted(self._vocabulary, grams), self._vocabulary.size - 1)
            seen = self._vocabulary[at] == grams
            idf[seen] = self._idf[at[seen]]
        weights = (1.0 + np.log(counts)) * idf
        norms = np.sqrt(np.bincount(texts, weights=weights * weights))
        weights = weights / norms[texts]
        kept = ~np.isin(grams, self._common)
        return grams[kept], texts[kept], weights[kept]

    def _postings(self, keys: Int, owner: Int, first: int) -> _Postings:
        grams, texts, weights = self._weights(keys, owner)
        return _Postings(grams, texts, weights, first)

    def add(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Store more texts (e.g. filings just accepted), weighted under the index's IDF."""
        first = len(self.ids)
        for offset, text in enumerate(texts):
            self._exact.setdefault(normalised(text), []).append(first + offset)
        self.ids.extend(ids)
        self._added.extend(texts)
        self._delta = None

    def _parts(self) -> list[_Postings]:
        if self._added and self._delta is None:
            keys, owner = _codes(self._added)
            self._delta = self._postings(keys, owner, len(self.ids) - len(self._added))
        return [self._base] + ([self._delta] if self._delta is not None else [])

    def scores(self, text: str, limit: int | None = None) -> Float:
        """Cosine of `text` with each of the first `limit` stored texts (all by default)."""
        size = len(self.ids) if limit is None else min(limit, len(self.ids))
        keys, owner = _codes([text])
        grams, _, weights = self._weights(keys, owner)
        total = np.zeros(size)
        for part in self._parts():
            where, how_much = part.gather(grams, weights)
            keep = where < size
            total += np.bincount(where[keep], weights=how_much[keep], minlength=size)[:size]
        for position in self._exact.get(normalised(text), []):
            if position < size:
                total[position] = 1.0
        return total

    def similar(
        self, text: str, threshold: float, k: int = 5, limit: int | None = None, exclude: Iterable[str] = ()
    ) -> list[Match]:
        """The stored texts (of the first `limit`) at least `threshold` alike, most alike first, at most k."""
        scores = self.scores(text, limit)
        found = np.flatnonzero(scores >= threshold)
        skip = set(exclude)
        ranked = found[np.argsort(-scores[found], kind="stable")]
        matches = [Match(self.ids[i], round(min(1.0, float(scores[i])), 4)) for i in ranked if self.ids[i] not in skip]
        return matches[:k]
