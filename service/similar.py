"""并案 candidates for a file of filings: each row's earlier filings that ask the same thing, among the
stored ones (earlier years' accepted proposals given as history, or the service's store) and the rows
above it in the same file. Only earlier ones: the later filing is the one merged into the first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proposal_router.model.similarity import Match, SimilarityIndex


@dataclass(frozen=True)
class Filed:
    """A filing as the index sees it: the office's id (or where it stands in the file) and its text."""

    id: str
    text: str


def similar_to_earlier(
    rows: Sequence[Filed], history: Sequence[Filed], threshold: float, k: int = 5
) -> list[list[Match]]:
    """For each row, the history's filings and the rows before it at least `threshold` alike."""
    everything = [*history, *rows]
    index = SimilarityIndex([f.text for f in everything], [f.id for f in everything])
    return [
        index.similar(row.text, threshold, k, limit=len(history) + position, exclude={row.id} if row.id else ())
        for position, row in enumerate(rows)
    ]
