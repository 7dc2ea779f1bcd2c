"""What past assignments say given the lead: its usual topic, and who usually co-handles with it.

市教育局's proposals are mostly 教育科技, and 市公安局 co-handles many of its school-safety ones. Given the
calibrated lead probabilities p, the topic prior is log(p·P(topic | lead)) and the co-department prior
logit(p·P(co | lead)); the conditional tables are add-one smoothed counts from the training rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array

PRIOR_FILE = "prior.npz"
_EPS = 1e-6


class LeadPrior:
    """`tables[head]` is lead labels × head labels of conditional probabilities."""

    def __init__(self, tables: dict[str, Array]) -> None:
        self.tables = tables

    @classmethod
    def load(cls, directory: Path) -> LeadPrior:
        with np.load(directory / PRIOR_FILE) as data:
            return cls({head: data[head].astype(np.float64) for head in data.files})

    def save(self, directory: Path) -> None:
        np.savez_compressed(directory / PRIOR_FILE, allow_pickle=False, **self.tables)

    def logits(self, lead_probs: Array) -> dict[str, Array]:
        out: dict[str, Array] = {}
        for head, table in self.tables.items():
            p = np.clip(lead_probs @ table, _EPS, 1 - _EPS)
            out[head] = np.log(p) if head == "topic" else np.log(p) - np.log1p(-p)
        return out
